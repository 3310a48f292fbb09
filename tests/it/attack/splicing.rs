//! Class 1, command splicing: a command block counts only when the whole command-bearing
//! content is covered by one good signature of the member's configured cert. An attacker's
//! block (signed by her own key, or only encrypted) placed before a member's genuine signed
//! text must not borrow the member's authority.
use super::craft::{fields, mail, pipeline, refusals, report, Actor, CASE1};

const POST: &str = "Thanks, I will look at SEC-2026-0001 tomorrow.\n";

/// The attack, whatever its form: nothing on the case changes and the refusal says why.
fn assert_refused(body: &str) {
    let p = pipeline();
    report(&p, "r1@reporter.example", "Overflow in the parser");
    let before = fields(&p.case(CASE1));
    let r = p.process(&mail(
        "Alice <alice@example.org>",
        "splice@attacker.example",
        "",
        body,
    ));
    let after = p.case(CASE1);
    assert_eq!(fields(&after), before, "{}", r.summary);
    assert!(
        refusals(&after).contains("one signature"),
        "no refusal naming the splice: {} / {}",
        refusals(&after),
        r.summary
    );
}

#[test]
fn the_attackers_clearsigned_commands_before_a_members_clearsigned_post_do_not_act() {
    let mallory = Actor::mallory("Mallory <mallory@attacker.example>");
    let alice = Actor::alice();
    let body = format!(
        "{}\n{}",
        mallory.clearsign("/state closed\n/severity low\n"),
        alice.clearsign(POST)
    );
    assert_refused(&body);
}

#[test]
fn the_attackers_encrypted_commands_before_a_members_captured_ciphertext_do_not_act() {
    // Alice's signed and encrypted mail, read off the wire before it reached us.
    let mallory = Actor::mallory("Mallory <mallory@attacker.example>");
    let alice = Actor::alice();
    let body = format!(
        "{}\n{}",
        mallory.encrypt("/state closed\n/severity low\n", false),
        alice.encrypt(POST, true)
    );
    assert_refused(&body);
}

#[test]
fn a_members_signed_block_after_the_attackers_signed_block_in_another_order_does_not_act() {
    // Commands after the member's text: the member's block comes first.
    let mallory = Actor::mallory("Mallory <mallory@attacker.example>");
    let alice = Actor::alice();
    let body = format!(
        "{}\n{}",
        alice.clearsign("/help\n\nSEC-2026-0001\n"),
        mallory.clearsign("/state closed\n")
    );
    assert_refused(&body);
}

#[test]
fn unsigned_commands_beside_a_members_clearsigned_post_do_not_act() {
    let p = pipeline();
    report(&p, "r1@reporter.example", "Overflow in the parser");
    let before = fields(&p.case(CASE1));
    let body = format!("/state closed\n\n{}", Actor::alice().clearsign(POST));
    p.process(&mail(
        "Alice <alice@example.org>",
        "splice@attacker.example",
        "",
        &body,
    ));
    assert_eq!(fields(&p.case(CASE1)), before);
}
