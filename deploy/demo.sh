#!/bin/bash
# Brings up annotate on this machine with the learning-loop manifest
# (deploy/loop.yaml): a coordinator and two workers on loopback, then
# streams scikit-learn's digits set (1,797 real 8x8 images) in with no
# labels at all, and lets a SIMULATED reviewer (deploy/simulated_reviewer.py,
# a script that knows the true labels and plays the person) label the items
# the machine is least sure of. The first model is trained after 30 human
# labels, a new version after every 40 more; each version is sent to the
# workers and the items are annotated again. The reviewer prints the
# machine's accuracy (against the truth, over the items no person labelled)
# as the human labels are spent.
#
#   deploy/demo.sh            run the demo, then stop everything
#   deploy/demo.sh --keep     leave the cluster running (stop it with Ctrl-C)
#
# Ports: ANNOTATE_GRPC (default 127.0.0.1:7400), ANNOTATE_CLUSTER
# (default tcp://127.0.0.1:7401). Data goes to a temporary directory.
# DEMO_BUDGET (default 400): human labels the simulated reviewer spends.
# ANNOTATE_BUILD_DIR (default build/): where to build and find the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

"$root/deploy/install-deps.sh"
bin=${ANNOTATE_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bin" -j"$(nproc)" --target annotate-coordinator annotate-worker annotatectl

grpc=${ANNOTATE_GRPC:-127.0.0.1:7400}
cluster=${ANNOTATE_CLUSTER:-tcp://127.0.0.1:7401}
work=$(mktemp -d /tmp/annotate-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ctl() { "$bin/annotatectl" --addr "$grpc" "$@"; }

echo "== starting a coordinator and two workers (logs in $work)"
"$bin/annotate-coordinator" --manifest "$root/deploy/loop.yaml" --data-dir "$work/data" \
    --grpc-listen "$grpc" --cluster-bind "$cluster" 2>"$work/coordinator.log" &
pids+=($!)
for i in $(seq 50); do ctl health >/dev/null 2>&1 && break; sleep 0.1; done
if ! ctl health >/dev/null 2>&1; then
    echo "the coordinator did not come up:"; cat "$work/coordinator.log"; exit 1
fi
for w in worker-1 worker-2; do
    "$bin/annotate-worker" --coordinator "$cluster" --name "$w" 2>"$work/$w.log" &
    pids+=($!)
done
sleep 1
ctl status

# wait_idle: until every stored item has been through an annotation actor.
wait_idle() {
    for _ in $(seq 300); do
        ctl status | grep -q 'pending 0, in_flight 0' && return 0
        sleep 0.1
    done
}

echo
echo "== streaming the digits set in: 1,797 images, no labels (the truth stays in meta.truth)"
/usr/bin/python3 "$root/tests/data/digits_jsonl.py" >"$work/digits.jsonl"
ctl ingest "$work/digits.jsonl" --no-progress
wait_idle
echo
echo "No model yet: the annotation actors saw every item and said so (source none)."
ctl ls --limit 3 2>/dev/null
echo
ctl status | sed -n '4,9p'

echo
echo "== a SIMULATED reviewer labels the least confident items (${DEMO_BUDGET:-400} labels)"
echo "   ACCURACY: machine labels that match the truth, over the items no person labelled"
echo "   (items still without a label count as wrong); COVERAGE: share of them with a label;"
echo "   STALE: items not yet re-annotated by the current model version"
/usr/bin/python3 "$root/deploy/simulated_reviewer.py" --addr "$grpc" --data "$work/digits.jsonl" \
    --budget "${DEMO_BUDGET:-400}" --report-every 25 --settle 15

echo
echo "== label propagation: the known labels spread over the items' nearest neighbours"
echo "   (annotatectl propagate); results that meet the class thresholds are stored"
ctl propagate
for _ in $(seq 50); do
    grep -q "propagation order .* done" "$work/coordinator.log" && break
    sleep 0.2
done
grep -o "propagation order .* done: .*" "$work/coordinator.log" | tail -1
echo
echo "== what the cluster says of itself (annotatectl stats): people, auto-accepted"
echo "   labels and their estimated accuracy, the review queue, per-class thresholds"
ctl stats
echo
echo "== the model versions the loop trained"
ctl models
echo "(ACCURACY here is on held-out human labels: uncertainty sampling picks the hardest"
echo " items for people, so it runs below the accuracy over all items shown above.)"

item=$(ctl ls --source model --limit 1 2>/dev/null | awk 'NR == 2 { print $1 }')
if [ -n "$item" ]; then
    echo
    echo "== one machine-labelled item: its history shows each model version that labelled it"
    ctl get "$item"
fi

echo
echo "== the cluster now"
ctl status

if [ "$keep" = 1 ]; then
    echo
    echo "cluster running: annotatectl --addr $grpc status; Ctrl-C stops it"
    wait
fi
