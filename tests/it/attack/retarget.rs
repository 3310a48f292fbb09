//! Class 3, re-targeting: the case a command acts on must be named inside the signed content
//! (protected headers, a `/case ID` line, or the case id of the quoted team copy). Unsigned
//! headers — In-Reply-To, References, To, Subject — only find the case; they cannot move a
//! member's signed command to another one.
use super::craft::{fields, pipeline, refusals, reply_to, report, text, text_with_subject, Actor};
use super::craft::{CASE1, CASE2};
use secmail::model::State;

/// Two cases; returns the Message-IDs of Alice's team copies of each.
fn two_cases(p: &super::super::common::Pipeline) -> (String, String) {
    let a = report(p, "r1@reporter.example", "Overflow in the parser");
    let b = report(p, "r2@reporter.example", "Crash in the resolver");
    (a, b)
}

#[test]
fn a_command_written_for_one_case_cannot_be_moved_to_another_by_its_headers() {
    let p = pipeline();
    let (copy1, _copy2) = two_cases(&p);
    let alice = Actor::alice();
    // Alice rejects case 2 (her reply quotes its team copy) — the attacker rewrites the
    // unsigned headers so that it threads into case 1.
    let raw = alice.pgp_mime(
        &reply_to(
            "Alice <alice@example.org>",
            "c1@example.org",
            &copy1,
            &format!("Re: [{CASE1}] Security case update"),
        ),
        &text("/state rejected\n\nNot a bug.\n\n> Case:         SEC-2026-0002 (new)\n"),
    );
    let before = fields(&p.case(CASE1));
    let r = p.process(&raw);
    let case = p.case(CASE1);
    assert_eq!(fields(&case), before, "{}", r.summary);
    assert!(
        refusals(&case).contains(CASE2),
        "the refusal must name the case the signed text is for: {}",
        refusals(&case)
    );
    assert_eq!(p.case(CASE2).state, State::New);
}

#[test]
fn a_command_naming_no_case_in_its_signed_content_is_refused_with_the_reason() {
    let p = pipeline();
    let (copy1, _) = two_cases(&p);
    let raw = Actor::alice().pgp_mime(
        &reply_to(
            "Alice <alice@example.org>",
            "c1@example.org",
            &copy1,
            &format!("Re: [{CASE1}] Security case update"),
        ),
        &text("/state rejected\n"),
    );
    let before = fields(&p.case(CASE1));
    p.process(&raw);
    let case = p.case(CASE1);
    assert_eq!(fields(&case), before);
    assert!(refusals(&case).contains("/case"), "{}", refusals(&case));
}

#[test]
fn the_case_named_in_a_protected_subject_or_a_case_line_lets_the_command_act() {
    let p = pipeline();
    let (copy1, copy2) = two_cases(&p);
    let alice = Actor::alice();
    let r = p.process(&alice.pgp_mime(
        &reply_to(
            "Alice <alice@example.org>",
            "c1@example.org",
            &copy1,
            "Re: ...",
        ),
        &text_with_subject(
            &format!("Re: [{CASE1}] Security case update"),
            "/state triage\n",
        ),
    ));
    assert_eq!(p.case(CASE1).state, State::Triage, "{}", r.summary);
    let r = p.process(&alice.pgp_mime(
        &reply_to(
            "Alice <alice@example.org>",
            "c2@example.org",
            &copy2,
            "Re: ...",
        ),
        &text(&format!("/case {CASE2}\n/state confirmed\n")),
    ));
    assert_eq!(p.case(CASE2).state, State::Confirmed, "{}", r.summary);
}
