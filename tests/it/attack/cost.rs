//! Class 6, cost bombs: a message that stops secmail while it is being handled (a crash, an
//! abort, the time budget) must not stop it again on every restart: after two attempts that
//! never finished it is quarantined unopened, the team told. Attached key material is capped.
use super::craft::pipeline;
use secmail::core::pipeline::hash;
use secmail::shell::batch;

fn report() -> Vec<u8> {
    b"From: Mallory <mallory@attacker.example>\r\nTo: security@example.org\r\nSubject: boom\r\nMessage-ID: <boom@attacker.example>\r\n\r\nThis one kills the daemon.\r\n".to_vec()
}

#[test]
fn a_message_whose_attempts_never_finished_twice_is_quarantined_unopened_and_the_team_told() {
    let p = pipeline();
    let raw = report();
    // Two attempts that began alone and never committed: the process died under them.
    for _ in 0..2 {
        p.store.begin_attempts(&[hash(&raw)], true).unwrap();
    }
    let done = batch::handle_all(
        std::slice::from_ref(&raw),
        &p.store,
        &p.config,
        &p.templates,
        p.now,
        1,
    )
    .unwrap();
    let d = &done[0];
    assert!(
        d.processed.case().is_none(),
        "opened again: {}",
        d.processed.summary
    );
    assert!(
        d.processed.summary.contains("quarantined"),
        "{}",
        d.processed.summary
    );
    let kinds: Vec<&str> = d
        .processed
        .outgoing()
        .iter()
        .map(|q| q.kind.as_str())
        .collect();
    assert!(kinds.contains(&"team-alert"), "{kinds:?}");
    assert!(!kinds.contains(&"ack"), "{kinds:?}");
}

#[test]
fn one_unfinished_attempt_is_tried_again_and_a_finished_one_clears_the_count() {
    let p = pipeline();
    let raw = report();
    p.store.begin_attempts(&[hash(&raw)], true).unwrap();
    let done = batch::handle_all(
        std::slice::from_ref(&raw),
        &p.store,
        &p.config,
        &p.templates,
        p.now,
        1,
    )
    .unwrap();
    assert!(
        done[0].processed.opened_case,
        "{}",
        done[0].processed.summary
    );
    // Committed: the count is gone, so the next begin sees none.
    assert_eq!(
        p.store.attempts(&[hash(&raw)]).unwrap(),
        [Default::default()]
    );
}

#[test]
fn a_batch_in_flight_at_a_crash_is_retried_one_by_one_and_blames_only_the_message_alone() {
    let p = pipeline();
    let innocent = b"From: Rita <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: a real one\r\nMessage-ID: <real@reporter.example>\r\n\r\nA real report.\r\n".to_vec();
    let poison = report();
    let both = [innocent.clone(), poison.clone()];
    let hashes = [hash(&innocent), hash(&poison)];
    // Died twice with both in one batch, then twice with the poison message alone.
    p.store.begin_attempts(&hashes, false).unwrap();
    p.store.begin_attempts(&hashes, false).unwrap();
    p.store.begin_attempts(&hashes[1..], true).unwrap();
    p.store.begin_attempts(&hashes[1..], true).unwrap();
    let done = batch::handle_all(&both, &p.store, &p.config, &p.templates, p.now, 2).unwrap();
    assert!(
        done[0].processed.opened_case,
        "{}",
        done[0].processed.summary
    );
    assert!(
        done[1].processed.case().is_none(),
        "{}",
        done[1].processed.summary
    );
}

/// `n` public-key packets (v4 RSA, 2048-bit garbage moduli): each parses as a cert of its own.
fn key_bomb(n: usize) -> Vec<u8> {
    use base64::Engine;
    let mut bin = Vec::new();
    for i in 0..n as u32 {
        let mut body = vec![4u8];
        body.extend_from_slice(&(1_700_000_000 + i).to_be_bytes());
        body.push(1); // RSA
        body.extend_from_slice(&2048u16.to_be_bytes());
        body.extend((0..256).map(|j| if j == 0 { 0x80 } else { (i as u8) ^ (j as u8) }));
        body.extend_from_slice(&17u16.to_be_bytes());
        body.extend_from_slice(&[1, 0, 1]);
        bin.push(0xC6); // new format, tag 6
        let n2 = body.len() - 192;
        bin.extend_from_slice(&[(n2 >> 8) as u8 + 192, n2 as u8]);
        bin.extend_from_slice(&body);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bin);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Mallory <mallory@attacker.example>\r\nTo: security@example.org\r\nSubject: keys\r\nMessage-ID: <keys@attacker.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pgp-keys\r\n\r\n-----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\n{}\r\n-----END PGP PUBLIC KEY BLOCK-----\r\n--b--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

#[test]
fn attached_key_material_is_capped() {
    let p = pipeline();
    let raw = key_bomb(300);
    let opened = secmail::core::decrypt::message(&raw, &p.config.keys, &[], p.now.into());
    assert!(
        opened.certs.len() <= secmail::core::decrypt::MAX_ATTACHED_CERTS,
        "{} certs taken from one message",
        opened.certs.len()
    );
    // The message itself is still a report the team sees.
    assert!(p.process(&raw).opened_case);
}

#[test]
fn pkesks_naming_our_key_buy_a_bounded_number_of_private_key_operations() {
    use openpgp::parse::Parse;
    use openpgp::serialize::MarshalInto;
    use sequoia_openpgp as openpgp;
    let p = pipeline();
    let rita = super::craft::Actor::rita();
    let armored = rita.encrypt(
        "Content-Type: text/plain\r\n\r\nThe real report.\r\n",
        false,
    );
    let pile = openpgp::PacketPile::from_bytes(armored.as_bytes()).unwrap();
    let packets: Vec<openpgp::Packet> = pile.into_children().collect();
    let real = packets
        .iter()
        .find(|x| matches!(x, openpgp::Packet::PKESK(_)))
        .unwrap()
        .to_vec()
        .unwrap();
    // Copies of the real PKESK with one byte of the wrapped key changed: each names our key
    // and each costs a private-key operation to find out it is wrong.
    let mut bogus = real.clone();
    let last = bogus.len() - 3;
    bogus[last] ^= 0x55;
    let mut bin = Vec::new();
    for _ in 0..secmail::core::decrypt::MAX_DECRYPTION_ATTEMPTS + 4 {
        bin.extend_from_slice(&bogus);
    }
    for x in &packets {
        bin.extend_from_slice(&x.to_vec().unwrap());
    }
    let mut w = openpgp::armor::Writer::new(Vec::new(), openpgp::armor::Kind::Message).unwrap();
    std::io::Write::write_all(&mut w, &bin).unwrap();
    let padded = String::from_utf8(w.finalize().unwrap()).unwrap();
    let raw = super::super::gpg::pgp_mime(
        "From: Mallory <mallory@attacker.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <pkesk@attacker.example>\r\n",
        &padded,
    );
    let opened = secmail::core::decrypt::message(&raw, &p.config.keys, &[], p.now.into());
    // The real PKESK comes after the budget: not tried.
    assert_ne!(
        opened.outcome,
        secmail::core::decrypt::Crypt::Decrypted,
        "{}",
        opened.text
    );
    // Without the padding it decrypts (the test can tell the difference).
    let plain = super::super::gpg::pgp_mime(
        "From: Rita <rita@reporter.example>\r\nTo: security@example.org\r\nSubject: ...\r\nMessage-ID: <ok@reporter.example>\r\n",
        &armored,
    );
    let opened = secmail::core::decrypt::message(&plain, &p.config.keys, &[], p.now.into());
    assert_eq!(opened.outcome, secmail::core::decrypt::Crypt::Decrypted);
}
