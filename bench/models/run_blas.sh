#!/bin/bash
# Batched inference with BLAS (model_predict_batch) and the multinomial
# L-BFGS solver (MODEL_SOLVER_LBFGS), each beside scikit-learn in the same
# run, one side after the other:
#
#   bench/models/run_blas.sh [REPEAT=3] [DATASETS="digits spam fashion"]
#
# Per dataset: our L-BFGS fit (REPEAT times, median; OpenBLAS on
# BLAS_TRAIN_THREADS=2 threads) and scikit-learn's
# LogisticRegression(solver="lbfgs") fit, test accuracy of both; then
# latency, features included, one at a time and in batches of 256 (ours:
# features_extract per item + one model_predict_batch, OpenBLAS on
# BLAS_THREADS=1 thread; scikit-learn: transform + predict_proba of its
# liblinear tol=0.01 model, as in run.sh), and our per-item loop against
# sgemm by batch size (scoring only). Splits and data as in run.sh. JSON
# lines into $OUT (default $TMPDIR/annotate-models-blas.jsonl), a summary
# on stdout; bench/RESULTS.md "### Batched inference with BLAS, and a
# multinomial L-BFGS solver" has the figures.
#
# BENCH_NO_LATENCY=1 runs only the fits; SKLEARN_SOLVERS=lbfgs leaves out
# scikit-learn's liblinear fit (143 s on Fashion-MNIST), which only serves
# the latency comparison. Builds into build/ first (BENCH_MODEL=path overrides the binary).
name=blas
source "$(dirname "$0")/setup.sh"
"$py" "$side" env >>"$out"

for d in $datasets; do
    case $d in
        fashion) train=$data/fashion-train.jsonl; test=$data/fashion-test.jsonl ;;
        *)
            awk 'NR % 4 != 0' "$data/$d.jsonl" >"$work/$d-train.jsonl"
            awk 'NR % 4 == 0' "$data/$d.jsonl" >"$work/$d-test.jsonl"
            train=$work/$d-train.jsonl; test=$work/$d-test.jsonl ;;
    esac
    echo "models-blas: $d (C side)" >&2
    BENCH_SOLVERS=lbfgs BENCH_NO_CALIB=1 BLAS_THREADS=${BLAS_THREADS:-1} \
        BLAS_TRAIN_THREADS=${BLAS_TRAIN_THREADS:-2} \
        "$BENCH_MODEL" data "$d" "$train" "$test" "$repeat" | tee -a "$out" >&2
    echo "models-blas: $d (scikit-learn side)" >&2
    BENCH_SOLVERS=${SKLEARN_SOLVERS:-"lbfgs|liblinear tol=0.01"} \
        "$py" "$side" data "$d" "$train" "$test" "$repeat" | tee -a "$out" >&2
done

"$py" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| data | side | solver | accuracy | train s |")
print("|---|---|---|---|---|")
for r in rows:
    if r.get("what") == "train":
        print(f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {r['side']} | {r['solver']} | {r['accuracy']:.4f} | {r['train_s']:.3f} |")
print()
print("| data | ours batch-256 µs/item | sklearn batch-256 µs/item | ratio | ours single µs | sklearn single µs |")
print("|---|---|---|---|---|---|")
lat = {(r["dataset"], r["side"]): r for r in rows if r.get("what") == "latency"}
for d in dict.fromkeys(k[0] for k in lat):
    c, s = lat.get((d, "c")), lat.get((d, "sklearn"))
    if c and s:
        print(f"| {d} | {c['batch256_us_per_item']:.2f} | {s['batch256_us_per_item']:.2f}"
              f" | {s['batch256_us_per_item']/c['batch256_us_per_item']:.2f}x"
              f" | {c['single_us']:.2f} | {s['single_us']:.1f} |")
print()
print("| data | batch | loop µs/item | sgemm µs/item |")
print("|---|---|---|---|")
for r in rows:
    if r.get("what") == "batch_path":
        print(f"| {r['dataset']} | {r['batch']} | {r['loop_us']:.3f} | {r['sgemm_us']:.3f} |")
PY
