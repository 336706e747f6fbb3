#!/bin/bash
# Installs what is missing, builds annotate with -Werror and runs the whole
# test suite with ctest (unit, integration, interop).
#
#   tests/run.sh              build in build/
#   tests/run.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"

bdir="$root/build"
extra=()
if [ "${1:-}" = "--sanitize" ]; then
    bdir="$root/build-asan"
    extra=(-DANNOTATE_SANITIZE=ON)
    export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=0"
    export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
cmake -S "$root" -B "$bdir" -DANNOTATE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" >/dev/null
cmake --build "$bdir" -j"$(nproc)"
cd "$bdir"
ctest --output-on-failure --timeout 900
