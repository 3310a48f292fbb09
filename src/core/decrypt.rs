//! STUB — replaced by the crypto branch.
use crate::core::keys::{Cert, ProjectKeys};
use std::time::SystemTime;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Clear,
    PgpMime,
    Inline,
    Attachment,
    ExchangeRepaired,
    Signed,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Clear,
    Decrypted,
    NotForUs { recipients: Vec<String> },
    NoIntegrity,
    Damaged(String),
}
#[derive(Debug, Clone, Default)]
pub struct ProtectedHeaders {
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub reply_to: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigStatus {
    Good,
    Bad,
    UnknownKey,
    Expired,
    Revoked,
}
#[derive(Debug, Clone)]
pub struct Signature {
    pub status: SigStatus,
    pub fingerprint: Option<String>,
    pub issuer: String,
    pub signer_emails: Vec<String>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertSource {
    AttachedSigner,
    Autocrypt,
    Attached,
}
#[derive(Debug, Clone)]
pub struct LearntCert {
    pub cert: Cert,
    pub source: CertSource,
}
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub data: Vec<u8>,
}
#[derive(Debug, Clone)]
pub struct Opened {
    pub form: Form,
    pub outcome: Outcome,
    pub text: String,
    pub unauthenticated: Vec<String>,
    pub protected: ProtectedHeaders,
    pub signatures: Vec<Signature>,
    pub certs: Vec<LearntCert>,
    pub attachments: Vec<Attachment>,
    pub autocrypt: Option<Cert>,
}
impl Opened {
    pub fn verified_sender(&self, from: &str) -> Option<String> {
        self.signatures
            .iter()
            .find(|s| {
                s.status == SigStatus::Good
                    && s.signer_emails.iter().any(|e| e.eq_ignore_ascii_case(from))
            })
            .and_then(|s| s.fingerprint.clone())
    }
}
pub fn message(raw: &[u8], _keys: &ProjectKeys, _known: &[Cert], _now: SystemTime) -> Opened {
    let text = mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default();
    Opened {
        form: Form::Clear,
        outcome: Outcome::Clear,
        text,
        unauthenticated: vec![],
        protected: Default::default(),
        signatures: vec![],
        certs: vec![],
        attachments: vec![],
        autocrypt: None,
    }
}
