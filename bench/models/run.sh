#!/bin/bash
# Model benchmarks: our model (bench_model, C) beside scikit-learn
# (sklearn_side.py) on the same files in the same run, one after the other
# so they never share the CPUs.
#
#   bench/models/run.sh [REPEAT=3] [DATASETS="digits spam fashion"]
#
# Data: bench/data/out (made by bench/data/prepare.sh, run here if missing).
# Splits: digits and spam 75/25 by line (every 4th line is a test item),
# written to files both sides read; Fashion-MNIST the official 60k / 10k.
# Prints every measurement as a JSON line into $OUT (default
# $TMPDIR/annotate-models-results.jsonl) and a summary table on stdout; see
# bench/RESULTS.md "## Models" for the figures written down.
#
# Builds into build/ first (BENCH_MODEL=path overrides the binary).
name=results
source "$(dirname "$0")/setup.sh"

{
    echo "{\"machine\":\"$(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)\"}"
    "$py" "$side" env
} >>"$out"

for d in $datasets; do
    case $d in
        fashion) train=$data/fashion-train.jsonl; test=$data/fashion-test.jsonl ;;
        *)
            awk 'NR % 4 != 0' "$data/$d.jsonl" >"$work/$d-train.jsonl"
            awk 'NR % 4 == 0' "$data/$d.jsonl" >"$work/$d-test.jsonl"
            train=$work/$d-train.jsonl; test=$work/$d-test.jsonl ;;
    esac
    svm=()
    [ "$d" = spam ] && svm=("$work/spam")
    echo "models: $d (C side)" >&2
    "$BENCH_MODEL" data "$d" "$train" "$test" "$repeat" "${svm[@]}" | tee -a "$out" >&2
    echo "models: $d (scikit-learn side)" >&2
    "$py" "$side" data "$d" "$train" "$test" "$repeat" "${svm[@]}" | tee -a "$out" >&2
done
echo "models: memory" >&2
"$BENCH_MODEL" memory | tee -a "$out" >&2

"$py" - "$out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| data | side | solver | accuracy | train s |")
print("|---|---|---|---|---|")
for r in rows:
    if r.get("what") == "train":
        print(f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {r['side']} | {r['solver']} | {r['accuracy']:.4f} | {r['train_s']:.3f} |")
print()
print("| data | ours single µs | sklearn single µs | ratio | ours batch-256 µs/item | sklearn batch-256 µs/item | ratio |")
print("|---|---|---|---|---|---|---|")
lat = {(r["dataset"], r["side"]): r for r in rows if r.get("what") == "latency"}
for d in dict.fromkeys(k[0] for k in lat):
    c, s = lat.get((d, "c")), lat.get((d, "sklearn"))
    if c and s:
        print(f"| {d} | {c['single_us']:.2f} | {s['single_us']:.1f} | {s['single_us']/c['single_us']:.0f}x"
              f" | {c['batch256_us_per_item']:.2f} | {s['batch256_us_per_item']:.2f}"
              f" | {s['batch256_us_per_item']/c['batch256_us_per_item']:.1f}x |")
for r in rows:
    if r.get("what") in ("calibration", "memory", "features") or "blas" in r or "machine" in r:
        print(json.dumps(r))
EOF
