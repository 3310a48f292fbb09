#!/usr/bin/env bash
# contrib/bench.sh — the benchmark harness (issue 6), release build:
#   bash contrib/bench.sh                  # 2,000 reports, Curve25519 keys
#   bash contrib/bench.sh --rsa            # the RSA-3072 variant
#   bash contrib/bench.sh --reports 500 --no-growth --out /tmp/b.json
# Prints a table and writes the figures as JSON (bench.json by default).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(libclang-dev nettle-dev pkg-config clang gnupg)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
cargo build --release --quiet --bin secmail --example bench
exec target/release/examples/bench "$@"
