//! What the pure pipeline may ask the store ([`View`], [`Lookup`]): reads only.
use super::Store;
use crate::core::keys::{self, Cert};
use crate::core::pipeline::View;
use crate::core::thread::Lookup;
use crate::model::{Case, CaseId, Distributor};
use chrono::{DateTime, Utc};

impl Lookup for Store {
    fn case_of_message_id(&self, message_id: &str) -> Option<CaseId> {
        let v = self.db.get(format!("mid/{message_id}").as_bytes()).ok()??;
        let s = String::from_utf8(v.to_vec()).ok()?;
        serde_json::from_value(serde_json::Value::String(s)).ok()
    }

    fn case(&self, id: &CaseId) -> Option<Case> {
        self.get_json(&format!("case/{id}"))
    }
}

impl View for Store {
    fn seen(&self, hash: &str, _message_id: Option<&str>, _from: Option<&str>) -> bool {
        self.db
            .contains_key(format!("msg/{hash}").as_bytes())
            .unwrap_or(false)
    }

    fn earlier_with_id(&self, message_id: &str, from: &str) -> Option<Vec<u8>> {
        let hash = self
            .db
            .get(format!("rmid/{from}/{message_id}").as_bytes())
            .ok()??;
        let hash = String::from_utf8(hash.to_vec()).ok()?;
        self.db
            .get(format!("raw/{hash}").as_bytes())
            .ok()?
            .map(|v| v.to_vec())
    }

    fn recent_auto_replies(&self, address: &str) -> Vec<DateTime<Utc>> {
        self.get_json(&format!("rate/{address}"))
            .unwrap_or_default()
    }

    fn told_fingerprint(&self, address: &str) -> bool {
        self.db
            .contains_key(format!("told/{address}").as_bytes())
            .unwrap_or(false)
    }

    fn told_too_large(&self, address: &str) -> bool {
        self.db
            .contains_key(format!("large/{address}").as_bytes())
            .unwrap_or(false)
    }

    fn next_case_id(&self, prefix: &str, year: i32) -> CaseId {
        let last = self
            .db
            .get(format!("seq/{prefix}/{year}").as_bytes())
            .ok()
            .flatten()
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
            .unwrap_or(0);
        CaseId::new(prefix, year, last + 1)
    }

    fn distributors(&self) -> Vec<Distributor> {
        Store::distributors(self)
    }

    fn signature_seen(&self, digest: &str) -> bool {
        self.db
            .contains_key(format!("sig/{digest}").as_bytes())
            .unwrap_or(false)
    }

    fn case_of_payload(&self, id: &str) -> Option<CaseId> {
        let v = self.db.get(format!("pay/{id}").as_bytes()).ok()??;
        let s = String::from_utf8(v.to_vec()).ok()?;
        serde_json::from_value(serde_json::Value::String(s)).ok()
    }

    fn cert_for(&self, address: &str) -> Option<Cert> {
        let v = self.db.get(format!("cert/{address}").as_bytes()).ok()??;
        keys::parse_cert(&v).ok()
    }
}
