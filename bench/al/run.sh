#!/bin/bash
# Active-learning benchmarks: our library (bench_al, C) and scikit-learn
# (sklearn_al.py) on the same splits and seeds, in the same run.
#
#   bench/al/run.sh [DATASETS="digits spam fashion10k fashion60k"] [SEEDS="1 2 3 4 5"]
#
# SEEDS_60K (default: SEEDS) sets the seeds of fashion60k alone. What is
# measured: bench/al/README.md. Splits (pool, test, validation sample V,
# cold start) are written per seed by splits.py into $DATA/al/, and both
# sides read them. The two sides run at the same time, one process each with
# one BLAS thread: the figures are label counts and accuracies, not times.
# Every round is a JSON line in $OUT (default
# $TMPDIR/annotate-al-results.jsonl); the tables (summarize.py) go to stdout.
#
# Builds bench_al into build/ first (BENCH_AL=path overrides the binary).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
datasets=${1:-"digits spam fashion10k fashion60k"}
seeds=${2:-"1 2 3 4 5"}
seeds60=${SEEDS_60K:-$seeds}
data=${DATA:-$root/bench/data/out}
out=${OUT:-${TMPDIR:-/tmp}/annotate-al-results.jsonl}
py=/usr/bin/python3
here=$root/bench/al

if [ -z "${BENCH_AL:-}" ]; then
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$root/build" -j"$(nproc)" --target bench_al >/dev/null
    BENCH_AL=$root/build/bench/bench_al
fi
for f in digits.jsonl spam.jsonl fashion-train.jsonl fashion-test.jsonl; do
    [ -s "$data/$f" ] || { "$root/bench/data/prepare.sh" "$data"; break; }
done
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$(dirname "$out")"
: >"$out"
{
    echo "{\"machine\":\"$(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)\"}"
    "$py" -c 'import json, sklearn, numpy; print(json.dumps({"sklearn": sklearn.__version__, "numpy": numpy.__version__}))'
} >>"$out"

all="random,least_confidence,margin,entropy,margin_diverse"
for d in $datasets; do
    # name: kind, train file, test file, batch, budget (labels, V excluded),
    # strategies, our solver (lbfgs: multinomial like scikit-learn's; "":
    # the default choice, liblinear below 5,000 examples)
    case $d in
        digits)     cfg=(digits digits.jsonl digits.jsonl 10 400 "$all" lbfgs); s=$seeds ;;
        spam)       cfg=(spam spam.jsonl spam.jsonl 20 400 "$all" ""); s=$seeds ;;
        fashion10k) cfg=(fashion fashion-train.jsonl fashion-test.jsonl 100 3000 "$all" lbfgs); s=$seeds ;;
        fashion60k) cfg=(fashion fashion-train.jsonl fashion-test.jsonl 500 9000 margin lbfgs); s=$seeds60 ;;
        *) echo "unknown dataset $d" >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086
    "$py" "$here/splits.py" "$d" "$data/al" $s >/dev/null
    splits=()
    for seed in $s; do splits+=("$data/al/$d-s$seed.json"); done
    echo "al: $d, seeds $s (both sides at once)" >&2
    BENCH_AL_SOLVER=${cfg[6]} "$BENCH_AL" "$d" "${cfg[0]}" "$data/${cfg[1]}" "$data/${cfg[2]}" \
        "${cfg[3]}" "${cfg[4]}" "${cfg[5]}" "${splits[@]}" >"$out.$d.c" &
    c_pid=$!
    "$py" "$here/sklearn_al.py" "$d" "${cfg[0]}" "$data/${cfg[1]}" "$data/${cfg[2]}" \
        "${cfg[3]}" "${cfg[4]}" "${splits[@]}" >"$out.$d.sklearn"
    wait "$c_pid"
    cat "$out.$d.c" "$out.$d.sklearn" >>"$out"
    rm -f "$out.$d.c" "$out.$d.sklearn"
done
"$py" "$here/summarize.py" "$out"
