#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while (needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz).
# Seeds each corpus with the mail fixtures. Crashes land in fuzz/artifacts/TARGET/.
#   contrib/stress/fuzz.sh [SECONDS-PER-TARGET]        default 300
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"
secs=${1:-300}
for t in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$t"
    find ../fixtures -name '*.eml' -size -200k -exec cp {} "corpus/$t/" \;
    echo "== $t for ${secs}s"
    cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -max_len=262144 2>&1 \
        | grep -E '^#[0-9]+.*(DONE|pulse)|ERROR|SUMMARY|Done [0-9]+ runs' | tail -3
done
