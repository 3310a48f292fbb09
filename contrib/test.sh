#!/usr/bin/env bash
# contrib/test.sh — THE test command (README): installs the real mail servers and build
# dependencies when they are missing (as root, Debian/Ubuntu), and cargo-deb and cargo-deny,
# then runs rustfmt, clippy, cargo deny and every test (the .deb is built and inspected by
# tests/it/package.rs). Fast when everything is installed: it only checks, then runs cargo.
# The release .deb and the advisory check that needs the network: contrib/package.sh.
#
#   bash contrib/test.sh            # locally; tests needing servers warn loudly if missing
#   CI=true bash contrib/test.sh    # what .ci/run does: missing servers fail the tests
set -euo pipefail
cd "$(dirname "$0")/.."

# Building needs nettle (sequoia's crypto) and libclang (its bindings); the tests need real
# mail servers and gpg (the reporter's side); systemd-analyze rates the unit files; dpkg-dev's
# dpkg-shlibdeps gives the .deb its library dependencies.
PACKAGES=(libclang-dev nettle-dev pkg-config clang dovecot-imapd dovecot-lmtpd postfix swaks gnupg openssl systemd dpkg-dev)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
# Dovecot refuses uid 0 for mail: the test servers store it as vmail.
if [[ $(id -u) -eq 0 ]] && ! getent passwd vmail >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin vmail
fi

# The advisory tests validate OSV and CSAF output with Python's jsonschema (tests/schemas/).
if ! python3 -c 'import jsonschema' 2>/dev/null; then
    echo "contrib/test.sh: installing python jsonschema (advisory schema tests)" >&2
    python3 -m pip install --quiet jsonschema || echo "contrib/test.sh: could not install jsonschema" >&2
fi

command -v cargo >/dev/null || { echo "contrib/test.sh: cargo not found (install Rust 1.95)" >&2; exit 1; }
# cargo-deb for the package test, cargo-deny for the dependency checks (contrib/deps.sh).
ensure_cargo_deb
ensure_cargo_deny

set -x
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
deny_check
log=$(mktemp)
cargo test --all-targets 2>&1 | tee "$log"
set +x
if [[ ${DENY_ADVISORIES:-} == unchecked ]]; then
    echo "contrib/test.sh: *** cargo deny: advisories NOT checked: the RustSec database could not be fetched (contrib/package.sh checks them where it can) ***" >&2
fi
# One closing line over every test binary, so that the whole run is judged, not its last binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
