#!/bin/bash
# Ingest benchmark: starts a coordinator and two workers on loopback, then for
# each batch size runs the in-process baseline and the cluster REPEAT times,
# alternating, and prints the medians and the cluster/in-process ratio.
#
#   bench/ingest/run.sh [ITEMS=200000] [REPEAT=3] [BATCHES="256 1024"] [RATE=25000]
#
# Throughput is measured flat out (the sender offers items as fast as the
# cluster takes them, so those latencies are mostly backlog); latency is
# measured again with the sender paced to RATE items per second.
#
# Builds into build/ first. Results are for the machine it runs on: see
# bench/RESULTS.md for the figures written down and the machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
items=${1:-200000}
repeat=${2:-3}
batches=${3:-"256 1024"}
rate=${4:-25000}
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
bin="$root/build"
work=$(mktemp -d /tmp/annotate-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gp=$(port); cp=$(port)
"$bin/annotate-coordinator" --data-dir "$work/data" --grpc-listen "127.0.0.1:$gp" \
    --cluster-bind "tcp://127.0.0.1:$cp" --log-level warn 2>"$work/coordinator.log" &
pids+=($!)
for w in worker-1 worker-2; do
    "$bin/annotate-worker" --coordinator "tcp://127.0.0.1:$cp" --name "$w" --log-level warn 2>"$work/$w.log" &
    pids+=($!)
done
for i in $(seq 100); do "$bin/annotatectl" --addr "127.0.0.1:$gp" health >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }

echo "| ingest message | in-process items/s | cluster items/s | ratio | flat-out p50 / p99 ms | at $rate items/s: p50 / p99 ms |"
echo "|---|---|---|---|---|---|"
for b in $batches; do
    : >"$work/in.$b"; : >"$work/cl.$b"; : >"$work/p50.$b"; : >"$work/p99.$b"; : >"$work/q50.$b"; : >"$work/q99.$b"
    for r in $(seq "$repeat"); do
        out=$("$bin/bench/bench_ingest" inproc --dir "$work/inproc-$b-$r" --items "$items" --batch "$b")
        echo "$out" >&2
        echo "$out" | field items_per_s >>"$work/in.$b"
        rm -rf "$work/inproc-$b-$r"
        out=$("$bin/bench/bench_ingest" cluster --addr "127.0.0.1:$gp" --items "$items" --batch "$b")
        echo "$out" >&2
        echo "$out" | field items_per_s >>"$work/cl.$b"
        echo "$out" | field p50_ms >>"$work/p50.$b"
        echo "$out" | field p99_ms >>"$work/p99.$b"
        out=$("$bin/bench/bench_ingest" cluster --addr "127.0.0.1:$gp" --items $((rate * 4)) --batch "$b" --rate "$rate")
        echo "$out" >&2
        echo "$out" | field p50_ms >>"$work/q50.$b"
        echo "$out" | field p99_ms >>"$work/q99.$b"
    done
    in=$(median <"$work/in.$b"); cl=$(median <"$work/cl.$b")
    ratio=$(awk -v a="$cl" -v b="$in" 'BEGIN {printf "%.2f", a/b}')
    echo "| $b items | $in | $cl | $ratio | $(median <"$work/p50.$b") / $(median <"$work/p99.$b") | $(median <"$work/q50.$b") / $(median <"$work/q99.$b") |"
done
