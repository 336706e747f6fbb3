#!/bin/bash
# Label propagation: our label spreading (libannotate/graph, bench_spread)
# beside scikit-learn's LabelSpreading(kernel='knn') in the same run, on the
# same split files, one side after the other:
#
#   bench/propagation/run.sh [SEEDS="1,2,3"] [FRACS="0.01,0.05,0.1"] [NEIGHBOURS="7,10"]
#
# Data: digits (all 1,797) and the first 10,000 of Fashion-MNIST's training
# set (raw pixels on both sides). Splits (sklearn_spread.py splits) draw
# FRACS of the items as labelled per seed; accuracy is on the others.
# Ours runs the Euclidean graph (scikit-learn's) and the cosine one. Then
# the kNN graph build alone on 10,000 and 60,000 Fashion vectors (KNN_N),
# ours (3 builds up to 20,000, else 1) and scikit-learn's NearestNeighbors. Both sides use OpenBLAS with
# BLAS_THREADS (default: nproc) threads. JSON lines go to $OUT (default
# $TMPDIR/annotate-propagation.jsonl), the Markdown tables to stdout.
# Builds bench_spread into build/ first (BENCH_SPREAD=path overrides).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seeds=${1:-1,2,3}
fracs=${2:-0.01,0.05,0.1}
neighbours=${3:-7,10}
knn_n=${KNN_N:-"10000 60000"}
data=${DATA:-$root/bench/data/out}
out=${OUT:-${TMPDIR:-/tmp}/annotate-propagation.jsonl}
py=/usr/bin/python3
here=$root/bench/propagation
splitdir=$data/propagation

if [ -z "${BENCH_SPREAD:-}" ]; then
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$root/build" -j"$(nproc)" --target bench_spread >/dev/null
    BENCH_SPREAD=$root/build/bench/bench_spread
fi
for f in digits.jsonl fashion-train.jsonl; do
    [ -s "$data/$f" ] || { "$root/bench/data/prepare.sh" "$data"; break; }
done
threads=${BLAS_THREADS:-$(nproc)}
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
mkdir -p "$(dirname "$out")"
{
    echo "{\"machine\":\"$(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)\", \"blas_threads\": $threads}"
    "$py" -c 'import json, sklearn, numpy, scipy; print(json.dumps({"sklearn": sklearn.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__}))'
} >"$out"

for d in digits fashion10k; do
    case $d in
        digits)     file=$data/digits.jsonl; n=1797 ;;
        fashion10k) file=$data/fashion-train.jsonl; n=10000 ;;
    esac
    mapfile -t splits < <("$py" "$here/sklearn_spread.py" splits "$d" "$file" "$n" "$splitdir" "$fracs" "$seeds")
    echo "propagation: $d, ${#splits[@]} splits, n_neighbors $neighbours" >&2
    "$BENCH_SPREAD" spread "$d" "$file" "$n" euclidean,cosine "$neighbours" "${splits[@]}" >>"$out"
    "$py" "$here/sklearn_spread.py" spread "$d" "$file" "$n" "$neighbours" "${splits[@]}" >>"$out"
done
for n in $knn_n; do
    echo "propagation: kNN graph, $n Fashion vectors" >&2
    reps=3; [ "$n" -le 20000 ] || reps=1
    "$BENCH_SPREAD" knn "$data/fashion-train.jsonl" "$n" 9 "$reps" >>"$out"
    [ -n "${SKIP_SKLEARN_KNN:-}" ] || "$py" "$here/sklearn_spread.py" knn "$data/fashion-train.jsonl" "$n" 9 >>"$out"
done
"$py" "$here/sklearn_spread.py" summarize "$out"
