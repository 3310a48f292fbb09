//! A reporter or team member using GnuPG: a throwaway GNUPGHOME, encryption and decryption
//! with the gpg command line, as people do it (independent of secmail's own OpenPGP code).
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

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

/// The armored OpenPGP message inside a PGP/MIME encrypted mail.
pub fn pgp_mime_payload(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let start = text
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("no PGP message in the mail");
    let end = text
        .find("-----END PGP MESSAGE-----")
        .expect("unterminated PGP message")
        + "-----END PGP MESSAGE-----".len();
    text[start..end].as_bytes().to_vec()
}

/// A PGP/MIME encrypted mail (RFC 3156 §4) around an armored message.
pub fn pgp_mime(headers: &str, armored: &str) -> Vec<u8> {
    format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b1\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n{}\r\n--b1--\r\n",
        armored.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}
