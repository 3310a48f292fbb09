#!/usr/bin/env bash
# contrib/bench.sh — the benchmark harness (issues 6 and 14), release build:
#   bash contrib/bench.sh                  # 2,000 reports, Curve25519 keys, every figure
#   bash contrib/bench.sh --rsa            # the RSA-3072 variant
#   bash contrib/bench.sh --reports 500 --no-growth --no-servers --out /tmp/b.json
#   bash contrib/bench.sh --no-backends    # the default crypto backend only
# Prints a table and writes the figures as JSON (bench.json by default). Figures 2 and 3 start
# a private Dovecot and Postfix on loopback as the tests do (root; installed here when missing).
# Unless --no-backends, the other crypto backends (Cargo features) are built too and measured
# first on figures 1 and 6 with the same corpus size, for the backend table.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(libclang-dev nettle-dev libssl-dev libbotan-2-dev pkg-config clang gnupg dovecot-imapd dovecot-lmtpd postfix openssl)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
# Dovecot refuses uid 0 for mail: the servers store it as vmail (as in contrib/test.sh).
if [[ $(id -u) -eq 0 ]] && ! getent passwd vmail >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin vmail
fi
# The default backend is Cargo.toml's `default` feature; these are the others.
OTHERS=(crypto-nettle crypto-botan2)
args=() forward=() backends=yes
while (($#)); do
    case $1 in
    --no-backends) backends="" ;;
    --reports) forward+=("$1" "$2"); args+=("$1" "$2"); shift ;;
    --rsa) forward+=("$1"); args+=("$1") ;;
    *) args+=("$1") ;;
    esac
    shift
done
compare=""
if [[ -n $backends ]]; then
    for b in "${OTHERS[@]}"; do
        cargo build --release --quiet --no-default-features --features "$b" --bin secmail --example bench
        mkdir -p "target/bench/$b/examples"
        cp target/release/secmail "target/bench/$b/"
        cp target/release/examples/bench "target/bench/$b/examples/"
    done
fi
cargo build --release --quiet --bin secmail --example bench
if [[ -n $backends ]]; then
    for b in "${OTHERS[@]}"; do
        echo "contrib/bench.sh: figures 1 and 6 with $b…" >&2
        "target/bench/$b/examples/bench" --only 1,6 "${forward[@]}" --out "target/bench/$b.json" >&2
        compare+="target/bench/$b.json,"
    done
fi
exec target/release/examples/bench "${args[@]}" ${compare:+--compare "$compare"}
