#!/usr/bin/env bash
# The big flood (issue 5): flood::flood_of_machines_and_spam… with N messages (default 20000);
# prints the daemon's peak RSS.
#   contrib/stress/flood.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
export SECMAIL_FLOOD=${1:-20000}
time cargo test --test it flood:: -- --nocapture
