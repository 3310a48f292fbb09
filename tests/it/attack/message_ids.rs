//! Class 7, predictable Message-IDs: the ids secmail gives its mail must not be computable by a
//! stranger from what she sees (the report on the wire, the case id, the addresses), or she
//! can put one in References and thread her text into the case (rule 1). Every id mixes in a
//! random per-store secret; text that threads in by rule 1 from a non-participant is marked.
use super::craft::{pipeline, RITA};
use secmail::core::draft::{self, Kind};
use secmail::core::effect::Queued;
use secmail::core::pipeline::hash;

fn report() -> Vec<u8> {
    format!(
        "From: {RITA}\r\nTo: security@example.org\r\nSubject: Overflow\r\nMessage-ID: <r1@reporter.example>\r\nDate: Thu, 24 Dec 2026 09:00:00 +0000\r\n\r\nThe parser overflows on a long record.\r\n"
    )
    .into_bytes()
}

fn stranger(references: &str) -> Vec<u8> {
    format!(
        "From: Mallory <mallory@attacker.example>\r\nTo: security@example.org\r\nSubject: Re: Overflow\r\nMessage-ID: <m1@attacker.example>\r\nReferences: <{references}>\r\nIn-Reply-To: <{references}>\r\nDate: Thu, 24 Dec 2026 10:00:00 +0000\r\n\r\nPlease also send me the exploit.\r\n"
    )
    .into_bytes()
}

fn ack_id(out: &[Queued]) -> String {
    out.iter()
        .find(|q| q.kind == "ack")
        .map(|Queued { mail: o, .. }| o.message_id.trim_matches(['<', '>']).to_string())
        .unwrap()
}

#[test]
fn an_id_computed_from_public_inputs_does_not_thread_into_the_case() {
    let p = pipeline();
    let raw = report();
    let first = p.process(&raw);
    let case = first.case().cloned().unwrap().id;
    // What a stranger computes: the derivation with everything she can see (all but the
    // store's secret).
    let public = secmail::core::settings::Project {
        id_secret: Default::default(),
        ..p.config.project.clone()
    };
    let guess = draft::message_id(
        Kind::Ack,
        Some(&case),
        &hash(&raw),
        "rita@reporter.example",
        &public,
    );
    let r = p.process(&stranger(&guess));
    assert!(r.opened_case, "threaded by a guessed id: {}", r.summary);
}

#[test]
fn two_stores_give_the_same_message_different_ids() {
    let (a, b) = (pipeline(), pipeline());
    let raw = report();
    assert_ne!(
        ack_id(a.process(&raw).outgoing()),
        ack_id(b.process(&raw).outgoing())
    );
}

#[test]
fn a_non_participant_threading_in_by_a_real_id_is_marked_in_the_team_copy() {
    let p = pipeline();
    let first = p.process(&report());
    let id = ack_id(first.outgoing());
    let r = p.process(&stranger(&id));
    assert!(!r.opened_case, "{}", r.summary);
    let alice = super::super::common::secret("team-alice-secret.asc");
    let copy = r
        .outgoing()
        .iter()
        .find(
            |Queued {
                 mail: o, kind: k, ..
             }| k == "team-copy" && o.rcpts == ["alice@example.org"],
        )
        .map(|Queued { mail: o, .. }| super::super::common::open_sent(&o.raw, &alice))
        .unwrap();
    assert!(copy.contains("not a participant"), "{copy}");
}
