//! A reporter or team member using GnuPG: a throwaway GNUPGHOME, encryption and decryption
//! with the gpg command line, as people do it (independent of secmail's own OpenPGP code).
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The PGP/MIME builder and reader live with the other mail builders; these are the names the
/// tests know them by.
pub use crate::harness::mail::{pgp_mime, pgp_mime_payload};

pub struct Gpg {
    pub home: tempfile::TempDir,
}

pub struct Decrypted {
    pub ok: bool,
    pub plaintext: String,
    pub status: String,
}

impl Gpg {
    /// A fresh home with these key files imported (secret or public), all trusted.
    pub fn with_keys(files: &[&Path]) -> Gpg {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("gpg.conf"), "trust-model always\n").unwrap();
        let g = Gpg { home };
        for f in files {
            let out = g.cmd().args(["--import"]).arg(f).output().unwrap();
            assert!(
                out.status.success(),
                "gpg --import {}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        g
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.home.path()).args([
            "--batch",
            "--yes",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        c
    }

    fn pipe(&self, args: &[&str], input: &[u8]) -> (bool, Vec<u8>, String) {
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gpg must be installed (contrib/test.sh installs gnupg)");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Signed by `signer` and encrypted to `recipient`, ASCII-armored.
    pub fn sign_encrypt(&self, signer: &str, recipient: &str, data: &[u8]) -> String {
        let (ok, out, err) = self.pipe(
            &[
                "--armor",
                "--sign",
                "--encrypt",
                "-u",
                signer,
                "-r",
                recipient,
            ],
            data,
        );
        assert!(ok, "gpg --sign --encrypt: {err}");
        String::from_utf8(out).unwrap()
    }

    pub fn decrypt(&self, armored: &[u8]) -> Decrypted {
        let (ok, out, status) = self.pipe(&["--status-fd", "2", "--decrypt"], armored);
        Decrypted {
            ok,
            plaintext: String::from_utf8_lossy(&out).into_owned(),
            status,
        }
    }
}
