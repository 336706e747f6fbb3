# Shared set-up of the model benchmarks, sourced by run.sh and run_blas.sh
# after they set `name` (used in file names): arguments, the bench_model
# binary (built unless BENCH_MODEL is given), the data (prepared if
# missing), a work dir removed on exit and an empty results file.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
repeat=${1:-3}
datasets=${2:-"digits spam fashion"}
data=${DATA:-$root/bench/data/out}
out=${OUT:-${TMPDIR:-/tmp}/annotate-models-$name.jsonl}
py=/usr/bin/python3
side="$root/bench/models/sklearn_side.py"

if [ -z "${BENCH_MODEL:-}" ]; then
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$root/build" -j"$(nproc)" --target bench_model >/dev/null
    BENCH_MODEL=$root/build/bench/bench_model
fi
for f in digits.jsonl spam.jsonl fashion-train.jsonl fashion-test.jsonl; do
    [ -s "$data/$f" ] || { "$root/bench/data/prepare.sh" "$data"; break; }
done

work=$(mktemp -d "/tmp/annotate-bench-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"
: >"$out"
