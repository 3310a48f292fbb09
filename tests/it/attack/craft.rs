//! The attacker's workbench: mail made with GnuPG (independent of secmail's own OpenPGP code)
//! by the people of the threat model in SECURITY.md — Alice, a team member whose signed posts
//! and ciphertexts the attacker has captured; Mallory, the attacker, with a key of her own and
//! the project's public key; Rita, a reporter.
use super::super::common::{now, repo, Pipeline};
use super::super::gpg::Gpg;
use secmail::core::effect::Queued;
use secmail::model::{Case, EventKind};
use std::io::Write;
use std::process::{Command, Stdio};

pub const RITA: &str = "Rita Reporter <rita@reporter.example>";
pub const CASE1: &str = "SEC-2026-0001";
pub const CASE2: &str = "SEC-2026-0002";

fn keys(file: &str) -> std::path::PathBuf {
    repo().join("fixtures/keys").join(file)
}

/// A GnuPG user: `Actor::alice()`, `Actor::rita()` or `Actor::mallory()`.
pub struct Actor {
    gpg: Gpg,
    pub uid: &'static str,
}

impl Actor {
    pub fn alice() -> Actor {
        Actor {
            gpg: Gpg::with_keys(&[
                &keys("team-alice-secret.asc"),
                &repo().join("keys/demo-project.asc"),
            ]),
            uid: "alice@example.org",
        }
    }

    pub fn rita() -> Actor {
        Actor {
            gpg: Gpg::with_keys(&[
                &keys("reporter-rita-secret.asc"),
                &repo().join("keys/demo-project.asc"),
            ]),
            uid: "rita@reporter.example",
        }
    }

    /// The attacker: a fresh key of her own (any user id she likes) and the project's key.
    pub fn mallory(uid: &'static str) -> Actor {
        let a = Actor {
            gpg: Gpg::with_keys(&[&repo().join("keys/demo-project.asc")]),
            uid,
        };
        let (ok, _, err) = a.run(&["--quick-gen-key", uid, "ed25519", "sign", "never"], b"");
        assert!(ok, "gpg --quick-gen-key: {err}");
        let fpr = a.fingerprint();
        let (ok, _, err) = a.run(&["--quick-add-key", &fpr, "cv25519", "encr", "never"], b"");
        assert!(ok, "gpg --quick-add-key: {err}");
        a
    }

    fn run(&self, args: &[&str], input: &[u8]) -> (bool, Vec<u8>, String) {
        let mut child = Command::new("gpg")
            .env("GNUPGHOME", self.gpg.home.path())
            .args([
                "--batch",
                "--yes",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                // Five minutes before the pipeline's fixed now (common::now): signatures are
                // fresh, as a member's mail is when it arrives.
                "--faked-system-time",
                "20261128T115500!",
            ])
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

    fn gpg(&self, args: &[&str], input: &str) -> String {
        let (ok, out, err) = self.run(args, input.as_bytes());
        assert!(ok, "gpg {args:?}: {err}");
        String::from_utf8(out).unwrap()
    }

    pub fn fingerprint(&self) -> String {
        let out = self.gpg(&["--with-colons", "--list-secret-keys", self.uid], "");
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_string()
    }

    /// The armored public cert.
    pub fn cert(&self) -> String {
        self.gpg(&["--armor", "--export", self.uid], "")
    }

    /// An `Autocrypt:` header (folded) carrying this actor's cert for `addr`.
    pub fn autocrypt(&self, addr: &str) -> String {
        use base64::Engine;
        let (ok, bin, err) = self.run(&["--export", self.uid], b"");
        assert!(ok && !bin.is_empty(), "gpg --export: {err}");
        let data = base64::engine::general_purpose::STANDARD.encode(bin);
        let folded: Vec<&str> = data
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "Autocrypt: addr={addr}; keydata=\r\n {}\r\n",
            folded.join("\r\n ")
        )
    }

    /// Decrypts an armored message to this actor; `None` when it cannot.
    pub fn decrypt(&self, armored: &[u8]) -> Option<String> {
        let (ok, out, _) = self.run(&["--decrypt"], armored);
        ok.then(|| String::from_utf8_lossy(&out).into_owned())
    }

    /// `gpg --detach-sign --armor` over `data`.
    pub fn detach_sign(&self, data: &str) -> String {
        self.gpg(&["--detach-sign", "--armor", "-u", self.uid], data)
    }

    /// An RFC 3156 multipart/signed body (with its Content-Type header) over `content`, a MIME
    /// entity written with CRLF line ends.
    pub fn multipart_signed(&self, content: &str) -> String {
        let sig = self.detach_sign(content);
        format!(
            "MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"s1\"\r\n\r\n--s1\r\n{content}\r\n--s1\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n{}\r\n--s1--\r\n",
            sig.replace('\n', "\r\n")
        )
    }

    /// `gpg --clearsign`, as on a signed list post.
    pub fn clearsign(&self, text: &str) -> String {
        self.gpg(&["--clearsign", "-u", self.uid], text)
    }

    /// Encrypted to the project (and signed when `sign`), armored.
    pub fn encrypt(&self, text: &str, sign: bool) -> String {
        let mut args = vec!["--armor", "--encrypt", "-r", "security@example.org"];
        if sign {
            args.extend(["--sign", "-u", self.uid]);
        }
        self.gpg(&args, text)
    }

    /// A signed-then-encrypted PGP/MIME payload whose inner part is `inner` (a MIME entity).
    pub fn pgp_mime(&self, headers: &str, inner: &str) -> Vec<u8> {
        let armored = self.encrypt(&inner.replace('\n', "\r\n"), true);
        super::super::gpg::pgp_mime(headers, &armored)
    }
}

/// A plain text/plain mail (`body` may hold inline armored blocks).
pub fn mail(from: &str, msgid: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: Re: [{CASE1}] Security case update\r\nMessage-ID: <{msgid}>\r\n{extra}Date: Thu, 24 Dec 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        body.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}

/// Headers of a reply to a message: In-Reply-To and References name it.
pub fn reply_to(from: &str, msgid: &str, parent: &str, subject: &str) -> String {
    format!("From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n")
}

/// A text/plain MIME entity for [`Actor::pgp_mime`].
pub fn text(body: &str) -> String {
    format!("Content-Type: text/plain; charset=utf-8\n\n{body}")
}

/// A text/plain MIME entity with an RFC 9788 protected Subject.
pub fn text_with_subject(subject: &str, body: &str) -> String {
    format!(
        "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\nSubject: {subject}\n\n{body}"
    )
}

/// A clear report from Rita opening a case; returns the Message-ID of Alice's team copy.
pub fn report(p: &Pipeline, msgid: &str, subject: &str) -> String {
    let r = p.process(
        format!(
            "From: {RITA}\r\nTo: security@example.org\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\nDate: Thu, 24 Dec 2026 09:00:00 +0000\r\n\r\nThe parser overflows on a long record.\r\n"
        )
        .as_bytes(),
    );
    assert!(r.opened_case, "{}", r.summary);
    r.outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| o.message_id.clone())
        .unwrap()
}

/// The case's fields without its timeline: what "nothing changed" compares.
pub fn fields(c: &Case) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timeline");
    o.remove("message_ids");
    v
}

/// The reasons of every refusal on a case, joined.
pub fn refusals(c: &Case) -> String {
    c.timeline
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::CommandRefused { reasons, .. } => Some(reasons.join("; ")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A pipeline on the demo configuration with its clock at the test's now.
pub fn pipeline() -> Pipeline {
    let mut p = Pipeline::demo();
    p.at(now());
    p
}
