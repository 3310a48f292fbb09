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

# Building needs OpenSSL (sequoia's default crypto backend; Nettle and Botan for the other
# backend features, Cargo.toml) and libclang (its bindings); the tests need real mail servers
# and gpg (the reporter's side); systemd-analyze rates the unit files; dpkg-dev's
# dpkg-shlibdeps gives the .deb its library dependencies; node runs
# the BSI's CSAF validator and OpenPGP.js.
PACKAGES=(libclang-dev libssl-dev nettle-dev libbotan-2-dev pkg-config clang dovecot-imapd dovecot-lmtpd postfix swaks gnupg openssl systemd dpkg-dev)
# The interop suite's producers (contrib/interop/generate.sh, tests/it/producers.rs): reports
# made by sq, sqop, RNP, GopenPGP, PGPainless, PGPy, mutt and s-nail. OpenPGP.js comes from the
# npm registry below; node and npm from Debian only where the machine has none of its own.
PACKAGES+=(sq sqop rnp gosop pgpainless-cli python3-pgpy mutt s-nail)
{ command -v npm >/dev/null && command -v node >/dev/null; } || PACKAGES+=(nodejs npm)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
# Dovecot refuses uid 0 for mail: the test servers store it as vmail.
if [[ $(id -u) -eq 0 ]] && ! getent passwd vmail >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin vmail
fi

# The advisory tests validate OSV and CSAF output with Python's jsonschema (tests/schemas/),
# the CVE JSON 5 record against the schema the PyPI package cvelib ships, and CSAF with the
# BSI's validator (@secvisogram/csaf-validator-lib, npm) under node. In CI a missing one fails
# those tests (tests/it/consumers.rs), so a failed install here is said, not hidden.
for module in jsonschema cvelib; do
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "contrib/test.sh: installing python $module (advisory schema tests)" >&2
        python3 -m pip install --quiet "$module" || echo "contrib/test.sh: could not install $module" >&2
    fi
done
CSAF_VALIDATOR=target/csaf-validator
if [[ ! -e $CSAF_VALIDATOR/node_modules/@secvisogram/csaf-validator-lib/basic.js ]]; then
    # Debian packs npm apart from nodejs (NodeSource's nodejs carries it): only when missing.
    command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null \
        || echo "contrib/test.sh: could not install npm" >&2
    echo "contrib/test.sh: installing @secvisogram/csaf-validator-lib into $CSAF_VALIDATOR" >&2
    mkdir -p "$CSAF_VALIDATOR"
    npm install --prefix "$CSAF_VALIDATOR" --no-audit --no-fund --silent \
        @secvisogram/csaf-validator-lib@2.0.10 \
        || echo "contrib/test.sh: could not install the CSAF validator" >&2
fi

# OpenPGP.js at a pinned version, in target/ (where generate.sh looks for it). A failed
# install leaves the producer missing, which the interop test reports (fatal under CI).
OPENPGPJS=6.3.2
npm_dir=target/interop/npm
if [[ $(node -p "require('./$npm_dir/node_modules/openpgp/package.json').version" 2>/dev/null) != "$OPENPGPJS" ]]; then
    echo "contrib/test.sh: installing OpenPGP.js $OPENPGPJS into $npm_dir (interop suite)" >&2
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-save --no-audit --no-fund --loglevel=error \
        "openpgp@$OPENPGPJS" || echo "contrib/test.sh: could not install OpenPGP.js" >&2
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
