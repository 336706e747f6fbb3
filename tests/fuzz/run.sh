#!/bin/bash
# CI's fuzz stage: installs clang when missing (deploy/install-deps.sh does
# not need it), builds the libFuzzer harnesses in build-fuzz/ and runs each
# for ANNOTATE_FUZZ_SECONDS (default 30) on a copy of its seed corpus, as
# ctest tests labelled "fuzz". Fails when any harness finds a crash, a
# leak, a timeout or an out-of-memory; ends with ctest's summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

missing=()
for p in clang libclang-rt-14-dev; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" != 0 ] && SUDO="sudo"
    echo "fuzz: installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

bdir="$root/build-fuzz"
CC=clang cmake -S "$root" -B "$bdir" -DANNOTATE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DANNOTATE_FUZZ_SECONDS="${ANNOTATE_FUZZ_SECONDS:-30}" >/dev/null
cmake --build "$bdir" -j"$(nproc)" --target fuzz
cd "$bdir"
ctest -L fuzz -j"$(nproc)" --output-on-failure
