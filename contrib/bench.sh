#!/usr/bin/env bash
# contrib/bench.sh — the benchmark harness (issue 6), release build:
#   bash contrib/bench.sh                  # 2,000 reports, Curve25519 keys, every figure
#   bash contrib/bench.sh --rsa            # the RSA-3072 variant
#   bash contrib/bench.sh --reports 500 --no-growth --no-servers --out /tmp/b.json
# Prints a table and writes the figures as JSON (bench.json by default). Figures 2 and 3 start
# a private Dovecot and Postfix on loopback as the tests do (root; installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(libclang-dev nettle-dev pkg-config clang gnupg dovecot-imapd dovecot-lmtpd postfix openssl)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
# Dovecot refuses uid 0 for mail: the servers store it as vmail (as in contrib/test.sh).
if [[ $(id -u) -eq 0 ]] && ! getent passwd vmail >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin vmail
fi
cargo build --release --quiet --bin secmail --example bench
exec target/release/examples/bench "$@"
