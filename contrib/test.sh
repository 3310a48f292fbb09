#!/usr/bin/env bash
# contrib/test.sh — THE test command (README): installs the real mail servers and build
# dependencies when they are missing (as root, Debian/Ubuntu), then runs rustfmt, clippy and
# every test. Fast when everything is installed: it only checks, then runs cargo.
#
#   bash contrib/test.sh            # locally; tests needing servers warn loudly if missing
#   CI=true bash contrib/test.sh    # what .ci/run does: missing servers fail the tests
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(dovecot-imapd dovecot-lmtpd postfix swaks libclang-dev nettle-dev pkg-config clang gnupg)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_missing() {
    if ! command -v dpkg-query >/dev/null; then
        echo "contrib/test.sh: not a Debian-like system; install by hand: ${PACKAGES[*]}" >&2
        return 0
    fi
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "contrib/test.sh: missing packages: ${missing[*]}" >&2
        echo "install them as root:" >&2
        echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "contrib/test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Installing postfix asks what kind of mail system this is: a test machine is local only.
    printf '%s\n' \
        "postfix postfix/main_mailer_type select Local only" \
        "postfix postfix/mailname string localhost" | debconf-set-selections
    # Package scripts must not start the system's own dovecot and postfix: the tests start
    # private instances. Keep the image's policy-rc.d; lend one only if there is none.
    local lent_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        lent_policy=yes
    fi
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    if [[ -n $lent_policy ]]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}

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
cargo test --all-targets
cargo test --doc
