#!/bin/bash
# Brings up annotate on this machine with the embedded default manifest: a
# coordinator and two workers on loopback, then streams scikit-learn's
# digits set (1,797 real 8x8 images, every 10th with its gold label)
# through the whole loop and shows the labels arriving.
#
#   deploy/demo.sh            run the demo, then stop everything
#   deploy/demo.sh --keep     leave the cluster running (stop it with Ctrl-C)
#
# Ports: ANNOTATE_GRPC (default 127.0.0.1:7400), ANNOTATE_CLUSTER
# (default tcp://127.0.0.1:7401). Data goes to a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target annotate-coordinator annotate-worker annotatectl

bin="$root/build"
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
"$bin/annotate-coordinator" --data-dir "$work/data" --grpc-listen "$grpc" --cluster-bind "$cluster" \
    2>"$work/coordinator.log" &
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

echo
echo "== streaming the digits set in (every 10th item carries its gold label)"
/usr/bin/python3 "$root/tests/data/digits_jsonl.py" --gold 10 >"$work/digits.jsonl"
ctl watch --from-now --idle-timeout 2 >"$work/events.txt" &
watcher=$!
ctl ingest "$work/digits.jsonl"
wait "$watcher" || true

echo
echo "== the first label events, as they arrived (watch)"
head -n 12 "$work/events.txt"
echo "... $(($(wc -l <"$work/events.txt") - 1)) events in all (one per item)"

echo
echo "== one item with its label history"
ctl get digit-0010
echo
ctl get digit-0011

echo
echo "== the cluster now"
ctl status
echo
echo "Until the learning loop is configured (model.type in the manifest), annotation"
echo "actors have no model and say so: their events carry source 'none' and no label."

if [ "$keep" = 1 ]; then
    echo
    echo "cluster running: annotatectl --addr $grpc status; Ctrl-C stops it"
    wait
fi
