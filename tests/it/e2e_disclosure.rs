//! Coordinated disclosure end to end against a real Dovecot and Postfix (issue 4, "Done
//! when"): a report becomes a case; the distributor list is set with the CLI; a team member's
//! signed mail sets the embargo and sends the advance notice with a patch; two distributors each
//! get one notice that only their own key opens and that names no other distributor; a third
//! without a cert gets nothing and the team is told; the reporter learns the date; on the date
//! the team's `/disclose` sends the signed announcement crediting the reporter, tells reporter
//! and distributors the embargo is over, and writes OSV and CSAF advisories that validate
//! against the official schemas.
use super::e2e::{
    header, keys, project_cert, report, Deployment, ALICE, BOB, RITA, SECURITY, WAIT,
};
use super::gpg::{pgp_mime, pgp_mime_payload, Gpg};
use super::harness::servers_or_skip;
use chrono::{Datelike, Duration, Utc, Weekday};

const DANA: &str = "dana@distro-a.example";
const ERIK: &str = "erik@distro-b.example";
const CARL: &str = "carl@distro-c.example";
const ANNOUNCE: &str = "announce@lists.example.org";

/// A signed and encrypted mail from Alice to the case address, with command lines on top and,
/// optionally, a patch attached.
fn team_mail(
    alice: &Gpg,
    case_id: &str,
    message_id: &str,
    body: &str,
    patch: Option<&str>,
) -> Vec<u8> {
    let mut inner = format!(
        // The subject protected (RFC 9788), as Thunderbird sends it: the signed content names
        // the case (SECURITY.md, re-targeting).
        "Content-Type: multipart/mixed; boundary=\"t1\"; protected-headers=\"v1\"\r\nSubject: [{case_id}] ...\r\n\r\n--t1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        body.replace('\n', "\r\n")
    );
    if let Some(p) = patch {
        inner.push_str(&format!(
            "--t1\r\nContent-Type: text/x-diff; name=\"fix.patch\"\r\nContent-Disposition: attachment; filename=\"fix.patch\"\r\n\r\n{}\r\n",
            p.replace('\n', "\r\n")
        ));
    }
    inner.push_str("--t1--\r\n");
    let armored = alice.sign_encrypt(ALICE, SECURITY, inner.as_bytes());
    let headers = format!(
        "From: Alice Demo <{ALICE}>\r\nTo: security+{case_id}@example.org\r\nSubject: [{case_id}] ...\r\nMessage-ID: <{message_id}>\r\n"
    );
    pgp_mime(&headers, &armored)
}

/// The first Tuesday to Thursday at least three days ahead, as YYYY-MM-DD.
fn disclosure_day() -> chrono::NaiveDate {
    let mut d = (Utc::now() + Duration::days(3)).date_naive();
    while !matches!(d.weekday(), Weekday::Tue | Weekday::Wed | Weekday::Thu) {
        d = d.succ_opt().unwrap();
    }
    d
}

/// The advisory passes `kind`'s validator (tests/it/consumers.rs: the OSV and CVE schemas,
/// the BSI's CSAF validator with its mandatory tests); a validator missing fails in CI.
fn validate(kind: &str, file: &std::path::Path) {
    let errors = match kind {
        "csaf-validator" => super::consumers::csaf_errors(&[file]),
        kind => super::consumers::schema_errors(kind, file),
    };
    if let Some(errors) = errors {
        assert!(
            errors.is_empty(),
            "{} does not pass {kind}:\n{errors}\n{}",
            file.display(),
            std::fs::read_to_string(file).unwrap_or_default()
        );
    }
}

fn count(msgs: &[Vec<u8>], needle: &str) -> usize {
    msgs.iter()
        .filter(|m| String::from_utf8_lossy(m).contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn report_to_disclosure_with_distributors() {
    let Some(servers) = servers_or_skip(&[SECURITY, RITA, ALICE, BOB, DANA, ERIK, CARL, ANNOUNCE])
    else {
        return;
    };
    let d = Deployment::with(
        &servers,
        &format!("announce-address = \"{ANNOUNCE}\""),
        "[advisories]\ndir = \"advisories\"\necosystem = \"PyPI\"\npackage = \"example\"\nid-prefix = \"EXAMPLE\"\ncve-org-id = \"8254265b-2729-46b6-b9e3-3dfca2d5bfca\"\n",
    );
    let run = |args: &[&str]| {
        let out = d.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "secmail {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // The confidential list, set by the operator before the daemon runs.
    let dana_cert = keys("distributor-dana.asc");
    let erik_cert = keys("distributor-erik.asc");
    run(&[
        "distributors",
        "add",
        "--name",
        "Distro A",
        "--address",
        DANA,
        "--cert",
        dana_cert.to_str().unwrap(),
    ]);
    run(&[
        "distributors",
        "add",
        "--name",
        "Distro B",
        "--address",
        ERIK,
        "--cert",
        erik_cert.to_str().unwrap(),
        "--cap",
        "14d",
    ]);
    let said = run(&[
        "distributors",
        "add",
        "--name",
        "Distro C",
        "--address",
        CARL,
    ]);
    assert!(said.contains("NO CERT"), "{said}");
    let listed = run(&["distributors", "list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");

    // The report.
    let rita = Gpg::with_keys(&[&keys("reporter-rita-secret.asc"), &project_cert()]);
    let year = Utc::now().year();
    let case_id = format!("SEC-{year}-0001");
    servers
        .submit(
            RITA,
            &[SECURITY],
            &report(
                &rita,
                "d1@reporter.example",
                "Heap overflow in parse_packet",
                "",
                "parse_packet() overflows on a 70000-byte record.",
            ),
        )
        .await
        .unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
    let out = d.once(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Alice sets the date and sends the advance notice, with the patch attached.
    let alice = Gpg::with_keys(&[&keys("team-alice-secret.asc"), &project_cert()]);
    let day = disclosure_day();
    let body = format!(
        "/severity critical CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n/affected >=2.4.0, <2.4.2\n/fixed 2.4.2\n/cve CVE-2026-12345\n/credit Rita Reporter\n/state fix-ready\n/embargo {day}\n/notify-distributors\n\nparse_packet() overflows its buffer on records over 64 KiB.\nAffected: 2.4.0 and 2.4.1. Remedy: upgrade to 2.4.2, or apply the attached patch.\n"
    );
    let patch =
        "--- a/parse.c\n+++ b/parse.c\n@@ -1 +1 @@\n-len = rec_len;\n+len = min(rec_len, MAX);\n";
    servers
        .submit(
            ALICE,
            &[SECURITY],
            &team_mail(&alice, &case_id, "cmd-1@example.org", &body, Some(patch)),
        )
        .await
        .unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
    let out = d.once(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("8 team commands (severity, affected, fixed, cve, credit, state, embargo, notify-distributors) → 1 confirmation"),
        "{stdout}"
    );

    // Each distributor with a cert: one notice, only its own key opens it, no other distributor
    // named, the patch and the date inside; the clear header is neutral.
    let dana = Gpg::with_keys(&[&keys("distributor-dana-secret.asc"), &project_cert()]);
    let erik = Gpg::with_keys(&[&keys("distributor-erik-secret.asc"), &project_cert()]);
    for (user, own, other, others) in [
        (DANA, &dana, &erik, ["Distro B", ERIK, "Distro C", CARL]),
        (ERIK, &erik, &dana, ["Distro A", DANA, "Distro C", CARL]),
    ] {
        let notice = servers
            .wait_for(user, "INBOX", WAIT, |m| {
                String::from_utf8_lossy(m).contains("Message-ID: <advance-notice.")
            })
            .await
            .unwrap();
        let raw = String::from_utf8_lossy(&notice).into_owned();
        assert_eq!(
            header(&raw, "To"),
            Some(
                format!(
                    "{}<{user}>",
                    if user == DANA {
                        "Distro A "
                    } else {
                        "Distro B "
                    }
                )
                .as_str()
            )
        );
        assert!(header(&raw, "Cc").is_none() && header(&raw, "Bcc").is_none());
        let payload = pgp_mime_payload(&notice);
        let opened = own.decrypt(&payload);
        assert!(
            opened.ok && opened.status.contains("GOODSIG"),
            "{user}: {}",
            opened.status
        );
        assert!(
            opened.plaintext.contains(&format!(
                "Disclosure date: {}",
                day.format("%A %Y-%m-%d 16:00 UTC")
            )),
            "{}",
            opened.plaintext
        );
        assert!(
            opened.plaintext.contains("upgrade to 2.4.2") && opened.plaintext.contains("fix.patch")
        );
        assert!(
            // The range as stated (issue 13.3), quoted-printable in the MIME part ("=" is "=3D").
            opened
                .plaintext
                .contains("Affected:        >=3D2.4.0, <2.4.2")
                && opened.plaintext.contains("(CVE-2026-12345)"),
            "{}",
            opened.plaintext
        );
        use mail_parser::MimeHeaders;
        let mime = mail_parser::MessageParser::default()
            .parse(opened.plaintext.as_bytes())
            .unwrap();
        let attached = mime.attachments().any(|a| {
            a.attachment_name() == Some("fix.patch")
                && String::from_utf8_lossy(a.contents()).contains("+len = min(rec_len, MAX);")
        });
        assert!(attached, "the patch is attached");
        for o in others {
            assert!(
                !opened.plaintext.contains(o) && !raw.contains(o),
                "{user}'s notice names {o}"
            );
        }
        assert!(
            !other.decrypt(&payload).ok,
            "{user}'s notice opened with another distributor's key"
        );
        let all = servers.list(user, "INBOX").await.unwrap();
        assert_eq!(
            count(&all, "Message-ID: <advance-notice."),
            1,
            "{user}: exactly one notice"
        );
    }
    // The distributor without a cert got nothing; the team was told.
    assert!(
        servers.list(CARL, "INBOX").await.unwrap().is_empty(),
        "Distro C got mail"
    );
    let bob = Gpg::with_keys(&[&keys("team-bob-secret.asc"), &project_cert()]);
    let alert = servers
        .wait_for(BOB, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <team-alert.")
                && bob.decrypt(&pgp_mime_payload(m)).plaintext.contains(CARL)
        })
        .await;
    assert!(alert.is_ok(), "the team was not told about Distro C");
    // Alice's confirmation.
    let confirm = servers
        .wait_for(ALICE, "INBOX", WAIT, |m| {
            alice
                .decrypt(&pgp_mime_payload(m))
                .plaintext
                .contains("advance notice sent to 2 distributor(s)")
        })
        .await;
    assert!(confirm.is_ok(), "no confirmation to Alice");
    // The reporter learns the date, encrypted to her.
    let told = servers
        .wait_for(RITA, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <disclosure-date.")
        })
        .await
        .unwrap();
    let told = rita.decrypt(&pgp_mime_payload(&told));
    assert!(
        told.ok
            && told
                .plaintext
                .contains(&day.format("%Y-%m-%d 16:00 UTC").to_string()),
        "{}",
        told.plaintext
    );
    for o in ["Distro", DANA, ERIK, CARL] {
        assert!(!told.plaintext.contains(o), "the reporter was told of {o}");
    }
    let case = d.case_json(&case_id);
    assert_eq!(case["state"], "pre-notified");
    let notices = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "sent" && e["kind"] == "advance-notice")
        .count();
    assert_eq!(notices, 2, "each delivery is a timeline event");

    // Distro A answers the notice: the reply threads into the case and stays internal (copied
    // to the team, nothing to the reporter, no automatic answer).
    let notice = servers.list(DANA, "INBOX").await.unwrap().remove(0);
    let notice_id = header(&String::from_utf8_lossy(&notice), "Message-ID")
        .unwrap()
        .to_string();
    let rita_before = servers.list(RITA, "INBOX").await.unwrap().len();
    let sent_to_rita = |case: &serde_json::Value| {
        case["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "sent" && e["to"] == RITA)
            .count()
    };
    let rita_sent_before = sent_to_rita(&d.case_json(&case_id));
    let bob_before = servers.list(BOB, "INBOX").await.unwrap().len();
    let armored = dana.sign_encrypt(
        DANA,
        SECURITY,
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nThanks, our update will be ready on the date.\r\n",
    );
    let reply = pgp_mime(
        &format!("From: Dana <{DANA}>\r\nTo: {SECURITY}\r\nSubject: Re: [{case_id}] notice\r\nMessage-ID: <dana-1@distro-a.example>\r\nIn-Reply-To: {notice_id}\r\nReferences: {notice_id}\r\n"),
        &armored,
    );
    servers.submit(DANA, &[SECURITY], &reply).await.unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
    let out = d.once(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{case_id}: follow-up from distributor")),
        "{stdout}"
    );
    let copy = servers
        .wait_for(BOB, "INBOX", WAIT, |m| {
            bob.decrypt(&pgp_mime_payload(m))
                .plaintext
                .contains("our update will be ready on the date")
        })
        .await;
    assert!(
        copy.is_ok(),
        "the team got no copy of the distributor's reply"
    );
    assert!(servers.list(BOB, "INBOX").await.unwrap().len() > bob_before);
    assert_eq!(
        servers.list(RITA, "INBOX").await.unwrap().len(),
        rita_before,
        "the reporter must not see a distributor's mail"
    );
    let case = d.case_json(&case_id);
    assert_eq!(
        sent_to_rita(&case),
        rita_sent_before,
        "nothing queued for the reporter"
    );
    assert!(case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "received" && e["sender_class"] == "distributor"));
    assert_eq!(
        count(
            &servers.list(DANA, "INBOX").await.unwrap(),
            "Message-ID: <ack."
        ),
        0,
        "a distributor's reply is not acknowledged"
    );

    // Disclosure day: Alice's /disclose (the clock pinned just after 16:00 UTC on the date).
    let at = format!("{day}T16:05:00Z");
    servers
        .submit(
            ALICE,
            &[SECURITY],
            &team_mail(&alice, &case_id, "cmd-2@example.org", "/disclose\n\nparse_packet() overflowed its buffer on records over 64 KiB. Upgrade to 2.4.2.\n", None),
        )
        .await
        .unwrap();
    servers
        .wait_for(SECURITY, "INBOX", WAIT, |_| true)
        .await
        .unwrap();
    let out = d.once(&[("SECMAIL_NOW", &at)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 team command (disclose) → 1 confirmation"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The announcement: signed, not encrypted, crediting Rita, naming no distributor.
    let ann = servers
        .wait_for(ANNOUNCE, "INBOX", WAIT, |m| {
            String::from_utf8_lossy(m).contains("Message-ID: <announcement.")
        })
        .await
        .unwrap();
    let ann = String::from_utf8_lossy(&ann).into_owned();
    assert!(
        ann.contains("multipart/signed") && !ann.contains("BEGIN PGP MESSAGE"),
        "{ann}"
    );
    assert!(
        ann.contains("this issue was reported by Rita Reporter"),
        "{ann}"
    );
    for o in ["Distro", DANA, ERIK, CARL, "Heap overflow in parse_packet"] {
        assert!(!ann.contains(o), "the announcement names {o}");
    }
    // Reporter and distributors told the embargo is over.
    for (user, gpg) in [(RITA, &rita), (DANA, &dana), (ERIK, &erik)] {
        let over = servers
            .wait_for(user, "INBOX", WAIT, |m| {
                String::from_utf8_lossy(m).contains("Message-ID: <embargo-over.")
            })
            .await
            .unwrap();
        assert!(gpg.decrypt(&pgp_mime_payload(&over)).ok, "{user}");
    }
    assert!(servers.list(CARL, "INBOX").await.unwrap().is_empty());
    assert_eq!(d.case_json(&case_id)["state"], "disclosed");

    // The advisories written at disclosure, and `secmail export`, validate.
    let dir = d.dir.path().join("advisories");
    // The OSV id is the project's (EXAMPLE-…), the CVE its alias: the official schema with its
    // registered-prefix rule alone relaxed (issue 13.8). CSAF: schema and the BSI validator's
    // mandatory tests (13.9). The CVE record: the CVE JSON 5 schema (13.10).
    validate("osv-any-prefix", &dir.join(format!("{case_id}.osv.json")));
    validate("csaf", &dir.join(format!("{case_id}.csaf.json")));
    validate("csaf-validator", &dir.join(format!("{case_id}.csaf.json")));
    validate("cve", &dir.join(format!("{case_id}.cve.json")));
    let csaf: serde_json::Value =
        serde_json::from_str(&run(&["export", &case_id, "--format", "csaf"])).unwrap();
    assert_eq!(csaf["document"]["tracking"]["status"], "final");
    assert_eq!(
        csaf["vulnerabilities"][0]["acknowledgments"][0]["names"][0],
        "Rita Reporter"
    );
    let osv_file = d.dir.path().join("export.osv.json");
    run(&[
        "export",
        &case_id,
        "--format",
        "osv",
        "--output",
        osv_file.to_str().unwrap(),
    ]);
    validate("osv-any-prefix", &osv_file);
    let osv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&osv_file).unwrap()).unwrap();
    assert_eq!(osv["id"], case_id.replacen("SEC", "EXAMPLE", 1));
    assert_eq!(osv["aliases"][0], "CVE-2026-12345");
    assert_eq!(
        osv["affected"][0]["ranges"][0]["events"],
        serde_json::json!([{ "introduced": "2.4.0" }, { "fixed": "2.4.2" }])
    );
    assert_eq!(osv["credits"][0]["name"], "Rita Reporter");
    let cve: serde_json::Value =
        serde_json::from_str(&run(&["export", &case_id, "--format", "cve"])).unwrap();
    assert_eq!(
        cve["containers"]["cna"]["metrics"][0]["cvssV3_1"]["baseScore"],
        9.8
    );
}
