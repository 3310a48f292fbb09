//! Class 2, replay: a team signature acts once, whatever is changed around it. The replay key
//! is what the signature covers (issuer, hashed area, digest of the signed data), not the
//! packet bytes: an unhashed subpacket added by the attacker keeps the signature valid and
//! must not make a used command new. Every team signature seen is remembered, notes too.
use super::craft::{mail, pipeline, refusals, report, Actor, CASE1};
use secmail::core::effect::Queued;
use secmail::model::State;
use sequoia_openpgp as openpgp;

/// The clearsigned text with an unhashed notation added to its signature: still valid.
fn malleate(clearsigned: &str) -> String {
    use openpgp::armor::{Kind, Writer};
    use openpgp::packet::signature::subpacket::{NotationData, Subpacket, SubpacketValue};
    use openpgp::parse::Parse;
    use openpgp::serialize::{Marshal, MarshalInto};
    let start = clearsigned.find("-----BEGIN PGP SIGNATURE-----").unwrap();
    let pile = openpgp::PacketPile::from_bytes(&clearsigned.as_bytes()[start..]).unwrap();
    let mut sig = match pile.into_children().next() {
        Some(openpgp::Packet::Signature(s)) => s,
        other => panic!("not a signature: {other:?}"),
    };
    let before = openpgp::Packet::from(sig.clone()).to_vec().unwrap();
    sig.unhashed_area_mut()
        .add(
            Subpacket::new(
                SubpacketValue::NotationData(NotationData::new(
                    "replay@attacker.example",
                    b"again",
                    None,
                )),
                false,
            )
            .unwrap(),
        )
        .unwrap();
    let mut w = Writer::new(Vec::new(), Kind::Signature).unwrap();
    openpgp::Packet::from(sig.clone())
        .serialize(&mut w)
        .unwrap();
    let armored = String::from_utf8(w.finalize().unwrap()).unwrap();
    assert_ne!(
        openpgp::Packet::from(sig).to_vec().unwrap(),
        before,
        "the packet must differ"
    );
    format!("{}{armored}", &clearsigned[..start])
}

#[test]
fn a_used_command_with_an_unhashed_notation_added_does_not_act_again() {
    let p = pipeline();
    report(&p, "r1@reporter.example", "Overflow in the parser");
    let alice = Actor::alice();
    let triage = alice.clearsign("/state triage\n\n> Case:         SEC-2026-0001 (new)\n");
    let from = "Alice <alice@example.org>";
    p.process(&mail(from, "c1@example.org", "", &triage));
    assert_eq!(p.case(CASE1).state, State::Triage);
    p.process(&mail(
        from,
        "c2@example.org",
        "",
        &alice.clearsign("/state confirmed\n\n> Case:         SEC-2026-0001 (triage)\n"),
    ));
    assert_eq!(p.case(CASE1).state, State::Confirmed);

    // The attacker sends the first command again, its signature packet changed.
    let replayed = malleate(&triage);
    let r = p.process(&mail(from, "c1-again@attacker.example", "", &replayed));
    let case = p.case(CASE1);
    assert_eq!(case.state, State::Confirmed, "{}", r.summary);
    assert!(
        refusals(&case).contains("already used"),
        "{}",
        refusals(&case)
    );
}

#[test]
fn a_captured_team_note_is_remembered_and_not_taken_for_a_new_one() {
    let p = pipeline();
    let copy = report(&p, "r1@reporter.example", "Overflow in the parser");
    let alice = Actor::alice();
    let note = alice.clearsign("This looks real to me.\n\n> Case:         SEC-2026-0001 (new)\n");
    let extra = format!("In-Reply-To: <{copy}>\r\n");
    let first = p.process(&mail(
        "Alice <alice@example.org>",
        "n1@example.org",
        &extra,
        &note,
    ));
    assert!(
        first.outgoing().iter().any(|q| q.kind == "team-copy"),
        "{}",
        first.summary
    );
    // The same signed note again, under a new Message-ID and its signature malleated.
    let again = p.process(&mail(
        "Alice <alice@example.org>",
        "n1-again@attacker.example",
        &extra,
        &malleate(&note),
    ));
    assert!(
        again
            .outgoing()
            .iter()
            .all(|Queued { kind: k, .. }| k != "team-copy"),
        "a replayed note was copied to the team as new: {}",
        again.summary
    );
    assert!(again.summary.contains("replay"), "{}", again.summary);
}
