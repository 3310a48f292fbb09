#!/usr/bin/env bash
# contrib/demo.sh — THE "see it work" command (README): builds secmail and runs it once on the
# shipped security.conf: the demo reports in fixtures/demo/maildir become cases, and the
# acknowledgements and team copies are written as .eml files to var/outbox. No server, no
# tracked file changed; run it again and nothing new happens (idempotent). `rm -rf var` starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(libclang-dev libssl-dev pkg-config clang)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
command -v cargo >/dev/null || { echo "secmail: cargo not found (install Rust 1.95)" >&2; exit 1; }
cargo build --quiet --bin secmail
bin=target/debug/secmail
echo "== secmail run --once (security.conf: maildir fixtures/demo/maildir → file outbox var/outbox)"
"$bin" run --once
echo
echo "== secmail cases"
"$bin" cases
echo
echo "== var/outbox (what would have been mailed; encrypted where the recipient's key is known)"
ls var/outbox
first=$("$bin" cases --json | sed -n 's/.*"id": "\(SEC-[0-9-]*\)".*/\1/p' | head -n 1)
if [[ -n $first ]]; then
    echo
    echo "== secmail case $first"
    "$bin" case "$first"
fi
