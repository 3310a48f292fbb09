//! The benchmark corpus: N reports as real PGP/MIME and inline PGP mail encrypted to a freshly
//! generated project key, half signed by reporter keys whose certs are attached, 2–8 KB of text,
//! some with an attachment, and follow-ups that thread into earlier cases by In-Reply-To.
use openpgp::cert::CertBuilder;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message};
use openpgp::serialize::SerializeInto;
use secmail::core::keys::{self, Cert, ProjectKeys};
use secmail::core::seal;
use sequoia_openpgp as openpgp;
use std::io::Write;
use std::time::SystemTime;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Suite {
    Cv25519,
    Rsa3k,
}

pub struct Person {
    pub address: String,
    pub secret: Cert,
}

impl Person {
    pub fn new(name: &str, address: &str, suite: Suite) -> Person {
        let cs = match suite {
            Suite::Cv25519 => openpgp::cert::CipherSuite::Cv25519,
            Suite::Rsa3k => openpgp::cert::CipherSuite::RSA3k,
        };
        let (secret, _) = CertBuilder::general_purpose(Some(format!("{name} <{address}>")))
            .set_cipher_suite(cs)
            // v4 keys, as GnuPG 2.2 (the comparison of figure 7) and most mail clients read them.
            .set_profile(openpgp::Profile::RFC4880)
            .expect("profile")
            // SEIPDv1 only: GnuPG 2.2 reads neither v6 PKESK nor SEIPDv2.
            .set_features(openpgp::types::Features::empty().set_seipdv1())
            .expect("features")
            .set_creation_time(
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600),
            )
            .generate()
            .expect("key generation");
        Person {
            address: address.into(),
            secret,
        }
    }

    pub fn public(&self) -> Cert {
        self.secret.clone().strip_secret_key_material()
    }

    pub fn secret_armored(&self) -> Vec<u8> {
        self.secret.as_tsk().armored().to_vec().unwrap()
    }

    pub fn public_armored(&self) -> String {
        keys::armored(&self.public())
    }

    pub fn keys(&self, now: SystemTime) -> ProjectKeys {
        ProjectKeys::from_secret_keys(&[(self.address.clone(), self.secret_armored())], None, now)
            .unwrap()
    }
}

pub struct Report {
    pub raw: Vec<u8>,
    /// The armored OpenPGP message inside (for the floor and gpg figures).
    pub armored: String,
    pub from: String,
    pub message_id: String,
    pub follow_up: bool,
}

pub struct Corpus {
    pub project: Person,
    pub team: Vec<Person>,
    pub reporters: Vec<Person>,
    pub reports: Vec<Report>,
}

impl Corpus {
    pub fn new_reports(&self) -> usize {
        self.reports.iter().filter(|r| !r.follow_up).count()
    }

    /// What the daemon must send: an ack and a copy per member for each report, a copy per
    /// member for each follow-up.
    pub fn expected_outgoing(&self) -> usize {
        let n = self.new_reports();
        n * (1 + self.team.len()) + (self.reports.len() - n) * self.team.len()
    }
}

/// A small deterministic generator, so that two runs measure the same corpus.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the",
    "parser",
    "buffer",
    "overflow",
    "length",
    "field",
    "record",
    "heap",
    "stack",
    "session",
    "cookie",
    "token",
    "request",
    "header",
    "allocation",
    "bounds",
    "check",
    "missing",
    "input",
    "crash",
    "attacker",
    "remote",
    "crafted",
    "packet",
    "version",
    "affected",
    "reproduce",
    "steps",
];

fn text(rng: &mut Rng, min: usize, max: usize) -> String {
    let target = min + rng.below((max - min) as u64) as usize;
    let mut s = String::with_capacity(target + 16);
    let mut col = 0;
    while s.len() < target {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        if col + w.len() > 70 {
            s.push_str("\r\n");
            col = 0;
        } else if col > 0 {
            s.push(' ');
            col += 1;
        }
        s.push_str(w);
        col += w.len();
    }
    s.push_str("\r\n");
    s
}

fn encrypt_only(recipient: &Cert, data: &[u8]) -> String {
    let policy = StandardPolicy::new();
    let recipients = recipient
        .keys()
        .with_policy(&policy, None)
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption();
    let mut sink = Vec::new();
    let message = Message::new(&mut sink);
    let message = Armorer::new(message).build().unwrap();
    let message = Encryptor::for_recipients(message, recipients)
        .build()
        .unwrap();
    let mut w = LiteralWriter::new(message).build().unwrap();
    w.write_all(data).unwrap();
    w.finalize().unwrap();
    String::from_utf8(sink).unwrap()
}

pub fn generate(n: usize, suite: Suite, now: SystemTime) -> Corpus {
    let project = Person::new("Bench Project Security", "security@bench.example", suite);
    let team: Vec<Person> = (0..3)
        .map(|i| {
            Person::new(
                &format!("Member {i}"),
                &format!("member{i}@bench.example"),
                suite,
            )
        })
        .collect();
    let reporters: Vec<Person> = (0..40)
        .map(|i| {
            Person::new(
                &format!("Reporter {i}"),
                &format!("reporter{i}@reporters.example"),
                suite,
            )
        })
        .collect();
    let reports = reports(&project, &reporters, n, "bench", now);
    Corpus {
        project,
        team,
        reporters,
        reports,
    }
}

/// `n` reports (and follow-ups) from `reporters` to `project`, with Message-IDs `<tag>-<i>@…`
/// (a second set with another tag is new mail to the same deployment).
pub fn reports(
    project: &Person,
    reporters: &[Person],
    n: usize,
    tag: &str,
    now: SystemTime,
) -> Vec<Report> {
    let reporter_keys: Vec<ProjectKeys> = reporters.iter().map(|r| r.keys(now)).collect();
    let project_cert = project.public();
    let mut rng = Rng(0x5ec0_0a11_u64 ^ n as u64 ^ tag.len() as u64);
    let mut reports: Vec<Report> = Vec::with_capacity(n);
    let mut sent_ids: Vec<(usize, String)> = Vec::new();
    for i in 0..n {
        let who = rng.below(reporters.len() as u64) as usize;
        let reporter = &reporters[who];
        let follow_up = i >= 20 && rng.below(10) == 0;
        let parent = follow_up
            .then(|| {
                sent_ids
                    .iter()
                    .rev()
                    .find(|(w, _)| *w == who)
                    .map(|(_, id)| id.clone())
            })
            .flatten();
        let follow_up = parent.is_some();
        let signed = rng.below(2) == 0;
        let inline = rng.below(2) == 0;
        let attach = rng.below(5) == 0;
        let body = text(&mut rng, 2048, 8192);
        let subject = format!(
            "Report {i}: {} in the {}",
            WORDS[rng.below(28) as usize],
            WORDS[rng.below(28) as usize]
        );
        let message_id = format!("{tag}-{i}@reporters.example");
        let armored = if inline {
            let data = body.as_bytes();
            if signed {
                seal::sign_and_encrypt(&reporter_keys[who], &[&project_cert], data, now).unwrap()
            } else {
                encrypt_only(&project_cert, data)
            }
        } else {
            let mut inner = format!("Content-Type: multipart/mixed; boundary=\"in{i}\"; protected-headers=\"v1\"\r\nSubject: {subject}\r\n\r\n--in{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}");
            if attach {
                let patch = text(&mut rng, 512, 2048);
                inner.push_str(&format!("--in{i}\r\nContent-Type: text/x-diff; name=\"fix.diff\"\r\nContent-Disposition: attachment; filename=\"fix.diff\"\r\n\r\n{patch}"));
            }
            if signed {
                inner.push_str(&format!("--in{i}\r\nContent-Type: application/pgp-keys; name=\"key.asc\"\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n{}\r\n", reporter.public_armored().replace('\n', "\r\n")));
            }
            inner.push_str(&format!("--in{i}--\r\n"));
            if signed {
                seal::sign_and_encrypt(&reporter_keys[who], &[&project_cert], inner.as_bytes(), now)
                    .unwrap()
            } else {
                encrypt_only(&project_cert, inner.as_bytes())
            }
        };
        let mut headers = format!("From: Reporter {who} <{}>\r\nTo: security@bench.example\r\nSubject: {}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n", reporter.address, if inline { subject.as_str() } else { "..." });
        if let Some(p) = &parent {
            headers.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
        }
        let armored_crlf = armored.replace("\r\n", "\n").replace('\n', "\r\n");
        let raw = if inline {
            format!("{headers}Content-Type: text/plain; charset=us-ascii\r\n\r\n{armored_crlf}")
        } else {
            format!("{headers}Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"out{i}\"\r\n\r\n--out{i}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--out{i}\r\nContent-Type: application/octet-stream\r\n\r\n{armored_crlf}\r\n--out{i}--\r\n")
        };
        if !follow_up {
            sent_ids.push((who, message_id.clone()));
        }
        reports.push(Report {
            raw: raw.into_bytes(),
            armored,
            from: reporter.address.clone(),
            message_id,
            follow_up,
        });
    }
    reports
}
