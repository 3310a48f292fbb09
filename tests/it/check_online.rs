//! `secmail check --online` and the IMAP folders against a real Dovecot and Postfix (issue
//! 12.3, 12.4): the default folder names work on Dovecot's default Maildir++ layout (`.`) and on
//! a `/` layout, non-ASCII names go over in modified UTF-7, every server is reported, and a
//! wrong password or a refused folder name is a configuration error (exit 78), not "server
//! unavailable".
use super::e2e::{Deployment, ALICE, BOB, RITA, SECURITY};
use super::harness::servers_or_skip_with;
use super::imap_smtp::fetch_until;
use secmail::shell::failure::FailureClass;
use secmail::shell::imap::{self, ImapInbox};

const USERS: &[&str] = &[SECURITY, RITA, ALICE, BOB];

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The deployment's config with `from` replaced by `to` (which must be there).
fn edit_config(d: &Deployment, from: &str, to: &str) {
    let conf = d.dir.path().join("security.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains(from), "{from:?} not in the config");
    std::fs::write(&conf, text.replacen(from, to, 1)).unwrap();
}

fn wrong_password(d: &Deployment) {
    std::fs::write(d.dir.path().join("imap-password"), "not-the-password").unwrap();
}

/// Configures SMTP credentials for the outbound server: user security@ and a 0600 password
/// file holding "x".
fn smtp_credentials(d: &Deployment) {
    let pw = d.dir.path().join("smtp-password");
    std::fs::write(&pw, "x").unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    edit_config(
        d,
        "[outbound]\nkind = \"smtp\"\n",
        &format!(
            "[outbound]\nkind = \"smtp\"\nuser = \"{SECURITY}\"\npassword-file = \"{}\"\n",
            pw.display()
        ),
    );
}

/// The configured defaults, `secmail/processed` and `secmail/quarantine`, on both layouts.
#[tokio::test]
async fn the_default_folders_work_on_maildir_plus_plus_and_on_slash_layouts() {
    for (separator, delimiter) in [(None, "."), (Some('/'), "/")] {
        let Some(servers) = servers_or_skip_with(USERS, separator) else {
            return;
        };
        let mut s = servers.imap_settings(SECURITY);
        s.processed_folder = "secmail/processed".into();
        s.quarantine_folder = "secmail/Quarantäne".into();
        let found = imap::check(&s).await.unwrap();
        assert_eq!(found.delimiter.as_deref(), Some(delimiter));
        let names: Vec<(&str, bool)> = found
            .folders
            .iter()
            .map(|f| (f.on_server.as_str(), f.created))
            .collect();
        let processed = format!("secmail{delimiter}processed");
        let quarantine = format!("secmail{delimiter}Quarant&AOQ-ne");
        assert_eq!(
            names,
            [
                ("INBOX", false),
                (processed.as_str(), true),
                (quarantine.as_str(), true)
            ]
        );
        // The daemon's session moves into them.
        servers
            .submit(RITA, &[SECURITY], b"Subject: x\r\n\r\nx\r\n")
            .await
            .unwrap();
        let mut inbox = ImapInbox::connect(&s).await.unwrap();
        let got = fetch_until(&mut inbox, 1).await;
        assert_eq!(got.len(), 1);
        inbox.move_to_quarantine(got[0].uid).await.unwrap();
        inbox.logout().await;
        assert_eq!(servers.list(SECURITY, &quarantine).await.unwrap().len(), 1);
        // A second check finds them there.
        let again = imap::check(&s).await.unwrap();
        assert!(again.folders.iter().all(|f| !f.created), "{again:?}");
    }
}

#[tokio::test]
async fn a_folder_name_the_server_cannot_create_is_a_configuration_error() {
    // Dovecot's Maildir++ storage keeps levels apart with `.`: with `/` as the namespace's
    // separator a `.` in a name is refused with [CANNOT].
    let Some(servers) = servers_or_skip_with(USERS, Some('/')) else {
        return;
    };
    let mut s = servers.imap_settings(SECURITY);
    s.processed_folder = "secmail.processed".into();
    let e = imap::check(&s).await.unwrap_err();
    let text = format!("{e:#}");
    assert_eq!(FailureClass::of(&e), FailureClass::Config, "{text}");
    assert!(text.contains("CANNOT"), "{text}");
    let e = ImapInbox::connect(&s).await.unwrap_err();
    assert_eq!(FailureClass::of(&e), FailureClass::Config, "{e:#}");
}

#[tokio::test]
async fn check_online_reports_every_server() {
    let Some(servers) = servers_or_skip_with(USERS, None) else {
        return;
    };
    let d = Deployment::with(&servers, "", "");
    let out = d.cmd(&["check", "--online"]).output().unwrap();
    let all = output(&out);
    assert!(out.status.success(), "{all}");
    let imap = format!("imap 127.0.0.1:{}", servers.imap_port());
    for needle in [
        format!("{imap}: login ok; hierarchy delimiter \".\""),
        format!("{imap}: folder \"secmail/processed\" as \"secmail.processed\": ok (created)"),
        format!("{imap}: folder \"secmail/quarantine\" as \"secmail.quarantine\": ok (created)"),
        format!(
            "outbound: ok (smtp 127.0.0.1:{}; MAIL FROM:<{SECURITY}> accepted)",
            servers.smtp_port()
        ),
    ] {
        assert!(all.contains(&needle), "{needle:?} not in:\n{all}");
    }
    assert!(servers.list(SECURITY, "secmail.processed").await.is_ok());
}

#[tokio::test]
async fn a_wrong_imap_password_is_exit_78_and_smtp_is_still_checked() {
    // Issue 12.4: a wrong password was "server unavailable" (69) and retried forever.
    let Some(servers) = servers_or_skip_with(USERS, None) else {
        return;
    };
    let d = Deployment::with(&servers, "", "");
    wrong_password(&d);
    let out = d.cmd(&["check", "--online"]).output().unwrap();
    let all = output(&out);
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("AUTHENTICATIONFAILED"), "{all}");
    assert!(
        !all.contains("not-the-password"),
        "no password in the output: {all}"
    );
    // Reported on, not skipped after the first failure.
    assert!(
        all.contains(&format!(
            "outbound: ok (smtp 127.0.0.1:{}",
            servers.smtp_port()
        )),
        "{all}"
    );
}

#[tokio::test]
async fn run_once_with_a_wrong_imap_password_is_exit_78() {
    let Some(servers) = servers_or_skip_with(USERS, None) else {
        return;
    };
    let d = Deployment::with(&servers, "", "");
    wrong_password(&d);
    let out = d.once(&[]);
    assert_eq!(out.status.code(), Some(78), "{}", output(&out));
}

#[tokio::test]
async fn smtp_credentials_the_server_cannot_take_are_exit_78() {
    // The test Postfix offers no AUTH: credentials configured for it cannot be used, which is
    // "no compatible mechanism", a configuration error. The IMAP side is fine and says so.
    let Some(servers) = servers_or_skip_with(USERS, None) else {
        return;
    };
    let d = Deployment::with(&servers, "", "");
    smtp_credentials(&d);
    let out = d.cmd(&["check", "--online"]).output().unwrap();
    let all = output(&out);
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("mechanism"), "{all}");
    assert!(all.contains("login ok"), "{all}");
}

#[tokio::test]
async fn run_once_keeps_mail_an_smtp_login_refusal_held_back_and_exits_78() {
    // Before, a 535 was a permanent refusal: the outbox gave up on every message.
    let Some(servers) = servers_or_skip_with(USERS, None) else {
        return;
    };
    let d = Deployment::with(&servers, "", "");
    smtp_credentials(&d);
    servers
        .submit(
            RITA,
            &[SECURITY],
            b"From: <rita@reporter.example>\r\nTo: <security@example.org>\r\nSubject: overflow\r\nMessage-ID: <r1@reporter.example>\r\n\r\nThe parser overflows.\r\n",
        )
        .await
        .unwrap();
    servers
        .wait_for(
            SECURITY,
            "INBOX",
            std::time::Duration::from_secs(30),
            |_| true,
        )
        .await
        .unwrap();
    // The second run an hour later, when the retry is due: the message is still there.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for env in [&[][..], &[("SECMAIL_NOW", later.as_str())]] {
        let out = d.once(env);
        let all = output(&out);
        assert_eq!(out.status.code(), Some(78), "{all}");
        assert!(all.contains("mechanism"), "{all}");
        // The ack and the two team copies.
        assert!(all.contains(" 3 deferred, 0 failed"), "{all}");
    }
}

#[test]
fn a_missing_ca_file_fails_check() {
    // Issue 12.4: it failed only at the first connection, in the daemon's log.
    let dir = super::cli::demo_tree();
    let conf = dir.path().join("security.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "x").unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let text = text.replace(
        "[outbound]\nkind = \"file\"\npath = \"var/outbox\"\n",
        "[outbound]\nkind = \"smtp\"\nhost = \"localhost\"\nsecurity = \"tls\"\nca-file = \"no-such-ca.pem\"\n",
    );
    std::fs::write(&conf, text).unwrap();
    let out = super::cli::secmail(dir.path(), &["check"]);
    let all = output(&out);
    assert_eq!(out.status.code(), Some(78), "{all}");
    assert!(all.contains("no-such-ca.pem"), "{all}");
}

#[tokio::test]
async fn tls_trusts_the_system_certificate_store() {
    // Issue 12.9: only the webpki roots and `ca-file` were trusted, so a server with a
    // certificate from the host's own CA (in /etc/ssl/certs) needed a ca-file. SSL_CERT_FILE
    // stands in for the system store here (rustls-native-certs reads it instead).
    let Some(servers) = servers_or_skip_with(USERS, None) else {
        return;
    };
    let d = Deployment::with(&servers, "", "");
    edit_config(
        &d,
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nuser",
            servers.imap_port()
        ),
        &format!(
            "host = \"localhost\"\nport = {}\nsecurity = \"tls\"\nuser",
            servers.imaps_port()
        ),
    );
    edit_config(
        &d,
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n",
            servers.smtp_port()
        ),
        &format!(
            "host = \"localhost\"\nport = {}\nsecurity = \"starttls\"\n",
            servers.smtp_port()
        ),
    );
    let ca = servers.ca_file();
    let out = d
        .cmd(&["check", "--online"])
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let all = output(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("login ok") && all.contains("outbound: ok"),
        "{all}"
    );
    // Without it the test CA is trusted by nothing: both fail, both are reported.
    let empty = d.dir.path().join("no-certs.pem");
    std::fs::write(&empty, "").unwrap();
    let out = d
        .cmd(&["check", "--online"])
        .env("SSL_CERT_FILE", &empty)
        .output()
        .unwrap();
    let all = output(&out);
    assert_eq!(out.status.code(), Some(69), "{all}");
    assert_eq!(all.matches("FAILED").count(), 2, "{all}");
}
