//! The people around a case: reporters and team members (distributors: `distributor.rs`).
//!
//! A team member's cert is sequoia's `Cert` itself, named from sequoia and not through
//! `core::keys` (which re-exports the same type): model depends on no layer above it, and the
//! core reads the cert without a conversion.
use serde::{Deserialize, Serialize};

/// How a reporter wants to be credited in an announcement (DESIGN.md "Cases"). Asked, not
/// assumed (issue 13.5): the acknowledgement asks, the reporter's `Credit: …` or `Anonymous`
/// answers, and the team's `/credit` overrides both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Credit {
    /// Not said yet: nobody is named. Cases stored before credit was asked carry `name`.
    #[default]
    Undecided,
    /// By the display name of their address.
    Name,
    /// By a handle (or name) of their choosing.
    Handle(String),
    Anonymous,
}

/// Someone who reported (or co-reported) the issue of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    /// Lowercased address, as used for matching.
    pub address: String,
    pub name: Option<String>,
    /// ASCII-armored public cert, once learnt (never a short key id).
    pub cert: Option<String>,
    pub cert_fingerprint: Option<String>,
    /// Where the cert was learnt from: "signature", "autocrypt", "keys-dir".
    pub cert_source: Option<String>,
    #[serde(default)]
    pub credit: Credit,
    /// The language they are written to (a canonical BCP 47 tag), chosen once from their first
    /// mail among the languages there are templates for (issue 12.6), so that what the timers
    /// send later is in the same language; `None`: the policy default. Cases stored before
    /// languages read back as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeamRole {
    Handler,
    Coordinator,
    Backup,
    Member,
}

/// A member of the security team, from the configuration.
#[derive(Debug, Clone)]
pub struct TeamMember {
    pub name: String,
    /// Lowercased address.
    pub address: String,
    pub role: TeamRole,
    pub cert: sequoia_openpgp::Cert,
    pub fingerprint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reporter_stored_before_languages_reads_back_in_the_policy_default() {
        // A record as a release before issue 12.6 wrote it: no `language`.
        let old = r#"{"address":"rita@reporter.example","name":"Rita","cert":null,
            "cert_fingerprint":null,"cert_source":null,"credit":"undecided"}"#;
        let r: Reporter = serde_json::from_str(old).unwrap();
        assert_eq!(r.language, None);
        assert_eq!(r.address, "rita@reporter.example");
        // And one with a language keeps it.
        let mut new = r.clone();
        new.language = Some("pt-BR".into());
        let back: Reporter = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }
}
