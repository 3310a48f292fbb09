#!/usr/bin/env bash
# contrib/test.sh — THE test command (README): installs the real mail servers and build
# dependencies when they are missing (as root, Debian/Ubuntu), then runs rustfmt, clippy and
# every test. Fast when everything is installed: it only checks, then runs cargo.
#
#   bash contrib/test.sh            # locally; tests needing servers warn loudly if missing
#   CI=true bash contrib/test.sh    # what .ci/run does: missing servers fail the tests
set -euo pipefail
cd "$(dirname "$0")/.."

# Building needs OpenSSL (sequoia's default crypto backend; Nettle and Botan for the other
# backend features, Cargo.toml) and libclang (bindings); the tests need real mail servers and
# gpg (the reporter's side); systemd-analyze rates the unit file.
PACKAGES=(libclang-dev libssl-dev nettle-dev libbotan-2-dev pkg-config clang dovecot-imapd dovecot-lmtpd postfix swaks gnupg openssl systemd)
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

set -x
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
log=$(mktemp)
cargo test --all-targets 2>&1 | tee "$log"
set +x
# One closing line over every test binary, so that the whole run is judged, not its last binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
