//! secmail as Debian operators get it (issue 12.8): the .deb that contrib/package.sh builds
//! with cargo-deb (here from the test binary), read with `dpkg-deb -I`/`-c`; what `init`
//! writes agreeing with the units the package ships; and where the configuration is read
//! from without `--config` (`SECMAIL_CONFIG`, ./security.conf, /etc/secmail/security.conf).
use super::common::repo;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `tool` (checked with `probe`) can be run; in CI it must (contrib/test.sh installs
/// it), elsewhere its absence skips the test with a loud warning.
fn available(tool: &str, probe: &mut Command) -> bool {
    if probe.output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs {tool} (contrib/test.sh installs it)"
    );
    eprintln!("\n*** WARNING: {tool} not found: the .deb is NOT built or checked ***\n");
    false
}

/// One file of the package's data, by its path in the package (`./usr/bin/secmail`).
fn extract(deb: &Path, path: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"dpkg-deb --fsys-tarfile "$1" | tar -xO "$2""#)
        .args(["sh", deb.to_str().unwrap(), path])
        .output()
        .unwrap();
    assert!(out.status.success(), "extracting {path}: {}", text(&out));
    out.stdout
}

#[test]
fn the_deb_ships_binary_units_man_pages_completions_and_scripts() {
    if !available(
        "cargo-deb",
        Command::new("cargo").args(["deb", "--version"]),
    ) || !available("dpkg-deb", Command::new("dpkg-deb").arg("--version"))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let stage = tmp.path().join("target");
    let printed = run_ok(
        Command::new("bash")
            .arg(repo().join("contrib/package.sh"))
            .args([
                "--no-deny",
                "--fast",
                "--binary",
                env!("CARGO_BIN_EXE_secmail"),
            ])
            .arg("--target-dir")
            .arg(&stage),
    );
    let deb = PathBuf::from(printed.lines().last().unwrap_or_default());
    assert!(
        deb.starts_with(stage.join("debian")) && deb.is_file(),
        "{printed}"
    );
    assert!(
        deb.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("secmail_{}-1_", env!("CARGO_PKG_VERSION"))),
        "{}",
        deb.display()
    );

    // The control file: the name, the library sequoia's default backend (OpenSSL) needs, adduser
    // for postinst.
    let info = run_ok(Command::new("dpkg-deb").arg("-I").arg(&deb));
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{info}"))
            .to_string()
    };
    assert_eq!(field("Package"), "secmail");
    assert_eq!(field("Section"), "mail");
    let depends = field("Depends");
    for want in ["adduser", "libc6", "libssl3"] {
        assert!(depends.contains(want), "Depends: {depends}");
    }
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "no {script}:\n{info}");
    }

    // What is in it, with its mode; nothing under /etc, so an upgrade never touches a config.
    let listing = run_ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{listing}"))
            .to_string()
    };
    assert!(entry("./usr/bin/secmail").starts_with("-rwxr-xr-x 0/0"));
    for path in [
        "./usr/lib/systemd/system/secmail.service",
        "./usr/lib/systemd/system/secmail@.service",
        "./usr/share/man/man1/secmail.1.gz",
        "./usr/share/man/man1/secmail-init.1.gz",
        "./usr/share/man/man1/secmail-distributors-add.1.gz",
        "./usr/share/bash-completion/completions/secmail",
        "./usr/share/zsh/vendor-completions/_secmail",
        "./usr/share/fish/vendor_completions.d/secmail.fish",
        "./usr/share/doc/secmail/README.md",
        "./usr/share/doc/secmail/SECURITY.md",
        "./usr/share/doc/secmail/copyright",
    ] {
        assert!(entry(path).starts_with("-rw-r--r-- 0/0"), "{}", entry(path));
    }
    assert!(
        !listing.contains(" ./etc/"),
        "the package ships files under /etc:\n{listing}"
    );
    assert!(!listing.contains("generate"), "{listing}");

    // The units are the repository's, byte for byte.
    for unit in ["secmail.service", "secmail@.service"] {
        let shipped = extract(&deb, &format!("./usr/lib/systemd/system/{unit}"));
        let ours = std::fs::read(repo().join("contrib/systemd").join(unit)).unwrap();
        assert!(
            shipped == ours,
            "{unit} differs from contrib/systemd/{unit}"
        );
    }
    // The man page is the binary's own, and names the configuration's fallbacks.
    let page = run_ok(Command::new("sh").arg("-c").arg(format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/share/man/man1/secmail.1.gz | gzip -dc",
        deb.display()
    )));
    assert!(page.contains(".TH secmail 1"), "{page}");
    assert!(page.contains("SECMAIL_CONFIG"), "{page}");
    let bash = String::from_utf8(extract(
        &deb,
        "./usr/share/bash-completion/completions/secmail",
    ))
    .unwrap();
    assert!(bash.contains("complete -F _secmail"), "{bash}");

    // The maintainer scripts: valid sh; postinst adds the user and /etc/secmail before
    // cargo-deb's systemd part, never writes a config; no token left unreplaced.
    let control = tmp.path().join("control");
    run_ok(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    for script in ["postinst", "prerm", "postrm"] {
        let path = control.join(script);
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(body.starts_with("#!/bin/sh\n"), "{script}:\n{body}");
        assert!(!body.contains("#DEBHELPER#"), "{script}:\n{body}");
        assert!(
            body.contains("Automatically added by cargo-deb"),
            "{script}"
        );
        run_ok(Command::new("sh").arg("-n").arg(&path));
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    let at = |what: &str| {
        postinst
            .find(what)
            .unwrap_or_else(|| panic!("{what:?} not in postinst:\n{postinst}"))
    };
    assert!(at("adduser --system --group") < at("Automatically added by cargo-deb"));
    assert!(at("chown root:secmail /etc/secmail") < at("Automatically added by cargo-deb"));
    at("chmod 0750 /etc/secmail");
    at("dpkg-statoverride --list /etc/secmail");
    let code: Vec<&str> = postinst
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let writes = |l: &&str| {
        [
            "security.conf",
            "secmail init",
            ">/etc/secmail",
            "> /etc/secmail",
            "cp ",
            "install ",
        ]
        .iter()
        .any(|w| l.contains(w))
    };
    assert!(
        !code.iter().any(writes),
        "postinst must not write a deployment:\n{postinst}"
    );
    // The units are installed, neither enabled nor started before a configuration exists.
    assert!(!postinst.contains("deb-systemd-invoke start"), "{postinst}");
    assert!(
        !postinst.contains("was-enabled defaults to true"),
        "enabled on installation:\n{postinst}"
    );
}

/// `init` with the binary, as root would run it for the package: the unit it writes is the
/// shipped one with this binary and this config in place of /usr/bin/secmail and
/// /etc/secmail/security.conf; the store and the socket are in the unit's directories.
#[test]
fn init_writes_the_shipped_unit_and_the_service_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc-secmail");
    init(&dir, &[]);
    let unit = std::fs::read_to_string(dir.join("secmail.service")).unwrap();
    let shipped = std::fs::read_to_string(repo().join("contrib/systemd/secmail.service"))
        .unwrap()
        .replace("/usr/bin/secmail", env!("CARGO_BIN_EXE_secmail"))
        .replace(
            "/etc/secmail/security.conf",
            dir.join("security.conf").to_str().unwrap(),
        );
    assert_eq!(unit, shipped);
    let conf = std::fs::read_to_string(dir.join("security.conf")).unwrap();
    assert!(conf.contains("path = \"/var/lib/secmail/store\""), "{conf}");
    assert!(
        conf.contains("[control]\n") && conf.contains("socket = \"/run/secmail/control\""),
        "{conf}"
    );
    verify_unit(&dir.join("secmail.service"));
    check_accepts(&dir);

    // An instance for the template unit: secmail@.service, with DIR's parent for /etc/secmail.
    let foo = tmp.path().join("etc-secmail/foo");
    init(&foo, &["--instance", "foo"]);
    let unit = std::fs::read_to_string(foo.join("secmail@.service")).unwrap();
    let shipped = std::fs::read_to_string(repo().join("contrib/systemd/secmail@.service"))
        .unwrap()
        .replace("/usr/bin/secmail", env!("CARGO_BIN_EXE_secmail"))
        .replace(
            "/etc/secmail/%i/security.conf",
            &format!("{}/%i/security.conf", dir.display()),
        );
    assert_eq!(unit, shipped);
    assert!(!foo.join("secmail.service").exists());
    let conf = std::fs::read_to_string(foo.join("security.conf")).unwrap();
    assert!(
        conf.contains("path = \"/var/lib/secmail/foo/store\"")
            && conf.contains("socket = \"/run/secmail/foo/control\""),
        "{conf}"
    );
    // systemd-analyze needs an instance's name to check a template.
    let instance = tmp.path().join("secmail@foo.service");
    std::fs::write(&instance, &unit).unwrap();
    verify_unit(&instance);
    check_accepts(&foo);

    // DIR must be the instance's directory (the template reads /etc/secmail/%i).
    let out = Command::new(env!("CARGO_BIN_EXE_secmail"))
        .arg("init")
        .arg(tmp.path().join("bar"))
        .args(["--instance", "foo", "--name", "Foo"])
        .args(["--address", "security@foo.test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("must be /etc/secmail/foo"),
        "{}",
        text(&out)
    );
    assert!(!tmp.path().join("bar").exists());
}

fn init(dir: &Path, extra: &[&str]) {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_secmail"))
            .arg("init")
            .arg(dir)
            .args(["--name", "Foo Project", "--address", "security@foo.test"])
            .args(extra),
    );
}

/// The servers filled in as the next steps say, `check` (offline) accepts the deployment.
fn check_accepts(dir: &Path) {
    let conf = dir.join("security.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("imap.foo.test", "127.0.0.1")
        .replace("smtp.foo.test", "127.0.0.1");
    std::fs::write(&conf, text).unwrap();
    std::fs::write(dir.join("imap-password"), "pw\n").unwrap();
    std::fs::write(dir.join("smtp-password"), "pw\n").unwrap();
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_secmail"))
            .arg("--config")
            .arg(&conf)
            .arg("check"),
    );
}

/// `systemd-analyze verify`: every directive known, the binary there; it prints nothing.
fn verify_unit(unit: &Path) {
    let out = match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(unit)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs systemd-analyze (package systemd): {e}"
            );
            eprintln!("\n*** WARNING: systemd-analyze not found: units NOT verified ***\n");
            return;
        }
    };
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify {}:\n{}",
        unit.display(),
        text(&out)
    );
}

/// A configuration whose security address tells which file was read.
fn conf_for(dir: &Path, address: &str) -> PathBuf {
    let r = repo();
    std::fs::create_dir_all(dir.join("maildir/new")).unwrap();
    let path = dir.join("security.conf");
    std::fs::write(
        &path,
        format!(
            r#"[project]
name = "Example Project"
security-address = "{address}"
demo-keys = true
[keys]
secret = ["{r}/keys/demo-project-secret.asc"]
[inbound]
kind = "maildir"
path = "maildir"
[outbound]
kind = "file"
path = "outbox"
[store]
path = "store"
[templates]
dir = "{r}/templates"
[[team]]
name = "Alice Demo"
address = "alice@example.org"
cert = "{r}/keys/team-alice.asc"
role = "handler"
"#,
            r = r.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn config_is_the_flag_then_secmail_config_then_the_working_directorys() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    conf_for(&local, "security@local.example");
    let env = conf_for(&tmp.path().join("env"), "security@env.example");
    let flag = conf_for(&tmp.path().join("flag"), "security@flag.example");
    let contact = |cwd: &Path, env: Option<&Path>, flag: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_secmail"));
        c.current_dir(cwd).env_remove("SECMAIL_CONFIG");
        if let Some(e) = env {
            c.env("SECMAIL_CONFIG", e);
        }
        if let Some(f) = flag {
            c.arg("--config").arg(f);
        }
        let out = c.arg("security-txt").output().unwrap();
        (out.status.code(), text(&out))
    };
    let says = |(code, out): (Option<i32>, String), address: &str| {
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains(&format!("Contact: mailto:{address}")), "{out}");
    };
    says(contact(&local, None, None), "security@local.example");
    says(contact(&local, Some(&env), None), "security@env.example");
    says(
        contact(&local, Some(&env), Some(&flag)),
        "security@flag.example",
    );
    // Nowhere a config: the packaged one is tried, and missing that, ./security.conf is named.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    if !Path::new("/etc/secmail/security.conf").exists() {
        let (code, out) = contact(&empty, None, None);
        assert_ne!(code, Some(0), "{out}");
        assert!(out.contains("security.conf"), "{out}");
    }
}
