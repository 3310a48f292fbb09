//! The one skip banner: a test that cannot run here (a server, a tool or a privilege missing)
//! says so on the real stderr, which libtest does not capture (`eprintln!` of a passing test
//! is hidden). In CI a missing server or tool is a failure, never a skip. `servers_or_skip`
//! is that rule for the real mail servers (here, not in servers.rs: the benchmark includes that
//! file on its own).
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Write;
use std::sync::Mutex;

use super::servers::MailServers;

/// Is this a CI run (`CI` set, as CI services do, and not to `false` or `0`)?
pub fn in_ci() -> bool {
    ci(std::env::var_os("CI").as_deref())
}

fn ci(var: Option<&OsStr>) -> bool {
    var.is_some_and(|v| v != "false" && v != "0")
}

/// Announces that the calling test skips what it cannot run here, for the reason `banner`
/// (what is missing and how to get it); the caller then returns. Each distinct banner is shown
/// once per test binary. In CI it panics instead: there everything must be there.
pub fn skip(banner: &str) {
    skip_unless_ci(in_ci(), banner);
}

fn skip_unless_ci(ci: bool, banner: &str) {
    assert!(!ci, "CI is set, so this must not be skipped, but: {banner}");
    static SHOWN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !shown
        .get_or_insert_with(HashSet::new)
        .insert(banner.to_string())
    {
        return;
    }
    let line = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{line}\n!!! SKIPPED: {}\n{line}\n",
        banner.replace('\n', "\n!!! ")
    );
}

/// The servers for `users`, or `None` after the skip banner when they cannot run here (not
/// installed, not root); in CI that fails the test instead. Servers that are there but fail to
/// start always fail the test.
pub fn servers_or_skip(users: &[&str]) -> Option<MailServers> {
    servers_or_skip_with(users, Some('/'))
}

/// As `servers_or_skip`, with the IMAP hierarchy separator of `MailServers::start_with`.
pub fn servers_or_skip_with(users: &[&str], separator: Option<char>) -> Option<MailServers> {
    if let Err(why) = MailServers::available() {
        skip(&format!(
            "the real-mail-server tests: {why}\n\
             Run contrib/test.sh as root to install Dovecot and Postfix."
        ));
        return None;
    }
    match MailServers::start_with(users, separator) {
        Ok(s) => Some(s),
        Err(e) => panic!("starting the mail servers failed: {e:#}"),
    }
}

#[test]
fn ci_is_any_value_but_false_or_0() {
    for (var, want) in [
        (None, false),
        (Some("true"), true),
        (Some("1"), true),
        (Some(""), true),
        (Some("false"), false),
        (Some("0"), false),
    ] {
        assert_eq!(ci(var.map(OsStr::new)), want, "CI={var:?}");
    }
}

#[test]
#[should_panic(expected = "CI is set, so this must not be skipped, but: no server")]
fn in_ci_a_skip_is_a_failure() {
    skip_unless_ci(true, "no server");
}
