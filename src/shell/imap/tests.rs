//! The IMAP module's own tests: UID sets, folder names, modified UTF-7, refusals classified,
//! the header fetch of mail over the size limit.
use super::folders::*;
use super::*;

#[test]
fn uid_sets() {
    let check = |uids: &[u32], want: &str| assert_eq!(uid_set(uids), want, "{uids:?}");
    check(&[], "");
    check(&[5], "5");
    check(&[1, 2, 3], "1:3");
    check(&[1, 2, 3, 7, 9, 10], "1:3,7,9:10");
    check(&[4, 6, 8], "4,6,8");
    check(&[u32::MAX - 1, u32::MAX], "4294967294:4294967295");
}

#[test]
fn the_header_of_oversize_mail_is_peeked_and_capped() {
    // PEEK: fetching it leaves the message unseen; the range bounds what the server sends.
    assert_eq!(header_item(65536), "(UID BODY.PEEK[HEADER]<0.65536>)");
    assert_eq!(OVERSIZE_HEADER_MAX, 64 << 10);
    let check = |header: &[u8], cap: usize, want: &[u8]| assert_eq!(capped(header, cap), want);
    check(b"From: a@b\r\n\r\n", 100, b"From: a@b\r\n\r\n");
    check(b"From: a@b\r\n\r\n", 6, b"From: ");
    check(b"", 6, b"");
}

#[test]
fn folder_names() {
    for ok in [
        "INBOX",
        "Processed",
        "secmail/quarantine",
        "Junk E-mail",
        "Über",
    ] {
        assert!(check_folder_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "a//b", "/a", "a/", "a\"b", "a*", "x\r\ny", "a\\b"] {
        let e = check_folder_name(bad).unwrap_err();
        assert_eq!(FailureClass::of(&e), FailureClass::Config, "{bad:?}");
    }
}

#[test]
fn folders_are_built_from_levels_with_the_servers_delimiter() {
    let check = |configured: &str, delimiter: Option<&str>, want: &str| {
        assert_eq!(
            folder_on_server(configured, delimiter).unwrap(),
            want,
            "{configured:?} with {delimiter:?}"
        )
    };
    // The defaults, on Dovecot's Maildir++ layout and on a `/` layout.
    check("secmail/processed", Some("."), "secmail.processed");
    check("secmail/processed", Some("/"), "secmail/processed");
    check("INBOX", Some("."), "INBOX");
    check("INBOX", None, "INBOX");
    // Written in the server's own form, kept.
    check("INBOX.secmail", Some("."), "INBOX.secmail");
    // Each level encoded on its own (RFC 3501 §5.1.3's example).
    check(
        "~peter/mail/台北/日本語",
        Some("/"),
        "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
    );
    check(
        "~peter/mail/台北/日本語",
        Some("."),
        "~peter.mail.&U,BTFw-.&ZeVnLIqe-",
    );
    check("Entwürfe", None, "Entw&APw-rfe");
    let e = folder_on_server("secmail/processed", None).unwrap_err();
    assert_eq!(FailureClass::of(&e), FailureClass::Config);
    assert!(format!("{e:#}").contains("no folder hierarchy"), "{e:#}");
}

#[test]
fn modified_utf7() {
    // (decoded, encoded): RFC 3501 §5.1.3, and RFC 2152's examples in the modified form
    // (`&` for `+`, `,` for `/`, always closed with `-`).
    let rows = [
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("A≢Α.", "A&ImIDkQ-."),
        ("Hi Mom -☺-!", "Hi Mom -&Jjo--!"),
        ("日本語", "&ZeVnLIqe-"),
        ("Item 3 is £1.", "Item 3 is &AKM-1."),
        ("&", "&-"),
        ("R&D", "R&-D"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
        // Outside the BMP: a surrogate pair.
        ("😀", "&2D3eAA-"),
        // DEL is not printable: encoded.
        ("a\u{7f}", "a&AH8-"),
        ("INBOX", "INBOX"),
        ("", ""),
    ];
    for (plain, wire) in rows {
        assert_eq!(mutf7::encode(plain), wire, "encode {plain:?}");
        assert_eq!(
            mutf7::decode(wire).as_deref(),
            Some(plain),
            "decode {wire:?}"
        );
    }
    for bad in [
        "&Jjo",   // unterminated
        "&AGE-",  // "a" encoded: printable ASCII must stand for itself
        "&2D0-",  // a lone high surrogate
        "&Jjp-",  // bits left over that are not zero
        "Ü",      // a raw non-ASCII character
        "&Jj!o-", // not base64
    ] {
        assert_eq!(mutf7::decode(bad), None, "{bad:?}");
    }
}
