#!/bin/bash
# One fuzz run, as ctest's fuzz.<harness> test does it:
#   run_one.sh HARNESS SEED_CORPUS SECONDS ARTIFACT_DIR
# Fuzzes a temporary copy of the seed corpus (the committed seeds are never
# touched), keeps crashing inputs in ARTIFACT_DIR, and exits non-zero when
# the harness found a crash, a leak, a timeout or an out-of-memory.
set -euo pipefail
harness=$1 seeds=$2 seconds=$3 artifacts=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/annotate-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
mkdir -p "$artifacts"
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts"/ "$work"
