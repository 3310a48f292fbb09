#!/usr/bin/env bash
# The big kill loop (issue 5): the CI test crash::kill_9_at_random_points_loses_nothing with
# more reports and kills. Needs the real servers (run as root; contrib/test.sh installs them).
#   contrib/stress/kill-loop.sh [MESSAGES] [KILLS]      default 300 and 30
set -euo pipefail
cd "$(dirname "$0")/../.."
export SECMAIL_KILL_MESSAGES=${1:-300} SECMAIL_KILLS=${2:-30} CI=${CI:-true}
time cargo test --test it crash::kill_9_at_random_points_loses_nothing -- --nocapture
