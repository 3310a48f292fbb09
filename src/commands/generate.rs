//! `secmail generate man DIR | completions SHELL` (hidden): the man pages and the shell
//! completions, made from the clap definitions in `cli.rs` by the binary they describe, so that
//! they cannot drift from it. contrib/package.sh runs it to put them into the .deb; an operator
//! may run it for a shell the package does not ship.
use super::ExitCode;
use crate::cli::{Cli, GenerateCommand};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub fn run(what: &GenerateCommand) -> Result<()> {
    match what {
        GenerateCommand::Man { dir } => {
            for name in man_pages(dir).context(ExitCode::IoErr)? {
                println!("{}", dir.join(name).display());
            }
            Ok(())
        }
        GenerateCommand::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "secmail", &mut out);
            std::io::Write::write_all(&mut std::io::stdout(), &out)
                .context("writing to stdout")
                .context(ExitCode::IoErr)
        }
    }
}

/// Writes `secmail.1` and one page per visible subcommand (`secmail-run.1`,
/// `secmail-distributors-add.1`, …) into `dir` (made 0755 if missing), mode 0644 whatever the
/// umask (they are for everyone); returns the file names.
fn man_pages(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)))
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    // As clap_mangen::generate_to does: no `help` subcommand page, and every subcommand gets
    // its display name (`secmail-run`) before the pages are made.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut names = Vec::new();
    write_pages(&cmd, dir, &mut names)?;
    Ok(names)
}

fn write_pages(cmd: &clap::Command, dir: &Path, names: &mut Vec<String>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let name = man.get_filename();
    let mut page = Vec::new();
    man.render(&mut page)?;
    let path = dir.join(&name);
    std::fs::write(&path, page)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)))
        .with_context(|| format!("writing {}", path.display()))?;
    names.push(name);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, names)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_per_visible_subcommand_and_none_for_generate() {
        let dir = tempfile::tempdir().unwrap();
        let names = super::man_pages(dir.path()).unwrap();
        for want in [
            "secmail.1",
            "secmail-run.1",
            "secmail-init.1",
            "secmail-distributors-add.1",
            "secmail-outbox-retry.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("generate") || n.contains("help")),
            "{names:?}"
        );
        let top = std::fs::read_to_string(dir.path().join("secmail.1")).unwrap();
        assert!(top.starts_with(".ie") || top.contains(".TH"), "{top}");
        assert!(
            top.contains("SECMAIL_CONFIG"),
            "the page names the variable"
        );
    }
}
