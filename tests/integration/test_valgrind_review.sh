#!/bin/bash
# The coordinator under valgrind (memcheck; definite and indirect leaks are
# errors) through the active-learning paths: a linear-model manifest with
# the review queue on, 200 digits, people's labels (SubmitLabel) until
# models are trained and thresholds fitted and refitted, the review calls
# (NextReview, SubmitReview: accept, correct, skip, a repeated answer, bad
# requests), Stats, a label propagation, then SIGTERM. Any valgrind error fails the test.
# Skipped in the sanitizer build (ASan and valgrind do not mix).
export ANNOTATE_VALGRIND=1
. "$(dirname "$0")/lib.sh"
[ "$SANITIZE" = 1 ] && skip "sanitizer build: valgrind does not run ASan binaries"
command -v valgrind >/dev/null || skip "valgrind is not installed"
need_binaries
M=200

sed -e 's/^\( *min_train:\).*/\1 20/' -e 's/^\( *retrain_after:\).*/\1 20/' \
    -e 's/^\( *validation_rate:\).*/\1 0.3/' "$SRC/deploy/loop.yaml" >"$T/loop.yaml"
printf '  refit_every: 3\n' >>"$T/loop.yaml"
digits --limit $M >"$T/items.jsonl"
start_coordinator --manifest "$T/loop.yaml"
start_worker worker-1
start_worker worker-2
wait_workers 2 $((60 * SLOW / 2))
expect_rc 0 ctl -o json ingest "$T/items.jsonl" --no-progress
wait_idle $((60 * SLOW / 2)) $M

say "people label 60 items (SubmitLabel): models are trained"
jq -r '"\(.id) \(.meta.truth)"' "$T/items.jsonl" | head -60 | while read -r id label; do
    ctl label "$id" "$label" --by tester >/dev/null || fail "label $id"
done
for _ in $(seq $((60 * SLOW))); do
    ctl -o json stats >"$T/stats.json" 2>/dev/null && [ "$(jq -r '.current_model // 0 | tonumber' "$T/stats.json")" -ge 1 ] && break
    sleep 1
done
[ "$(jq -r '.current_model // 0 | tonumber' "$T/stats.json")" -ge 1 ] || fail "no model trained"

say "review calls: accept, correct, skip, repeat, bad requests"
printf '.\n/3\n,\nq\n' >"$T/keys"
expect_rc 0 ctl review --reviewer val --batch 4 <"$T/keys"
$PY - "$ADDR" "$SRC" <<'PY' || fail "review calls from Python"
import os, subprocess, sys, tempfile
addr, src = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp()
subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(src, "proto"),
                       "--python_out", tmp, "--grpc_python_out", tmp,
                       os.path.join(src, "proto/annotate/v1/annotate.proto")])
sys.path.insert(0, tmp)
import grpc
from annotate.v1 import annotate_pb2 as pb, annotate_pb2_grpc as pbg
stub = pbg.AnnotateStub(grpc.insecure_channel(addr))
r = stub.NextReview(pb.NextReviewRequest(reviewer="py", max_items=3), timeout=30)
assert r.tasks, r
t = r.tasks[0]
a = stub.SubmitReview(pb.SubmitReviewRequest(reviewer="py", lease=t.lease, id=t.item.id,
                      action=pb.ACTION_CORRECT, label="7"), timeout=30)
b = stub.SubmitReview(pb.SubmitReviewRequest(reviewer="py", lease=t.lease, id=t.item.id,
                      action=pb.ACTION_CORRECT, label="7"), timeout=30)
assert b.duplicate and b.seq == a.seq, (a, b)
stub.SubmitReview(pb.SubmitReviewRequest(reviewer="py", lease=r.tasks[1].lease,
                  id=r.tasks[1].item.id, action=pb.ACTION_SKIP), timeout=30)
for bad in (pb.NextReviewRequest(reviewer="", max_items=1), pb.NextReviewRequest(reviewer="x", max_items=1000)):
    try:
        stub.NextReview(bad, timeout=30)
        raise SystemExit("accepted a bad NextReview")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
try:
    stub.SubmitReview(pb.SubmitReviewRequest(reviewer="py", id=t.item.id,
                      action=pb.ACTION_CORRECT, label="not-a-label"), timeout=30)
    raise SystemExit("accepted a label outside the taxonomy")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
st = stub.Stats(pb.StatsRequest(), timeout=30)
assert st.reviews >= 62, st
PY
expect_rc 0 ctl stats

say "label propagation under valgrind"
expect_rc 0 ctl -o json propagate --reason valgrind
order=$(jq -r '.order' "$T/out")
for _ in $(seq $((60 * SLOW))); do
    grep -q "propagation order $order done\|propagation order $order failed\|propagation order $order refused" \
        "${LOGS[coordinator]}" && break
    sleep 1
done
grep -q "propagation order $order done" "${LOGS[coordinator]}" \
    || { grep propagation "${LOGS[coordinator]}" >&2; fail "propagation order $order did not finish"; }

say "SIGTERM; valgrind must report no errors"
stop_coordinator
for f in "$T"/logs/valgrind.*.txt; do
    grep -q "ERROR SUMMARY: 0 errors" "$f" || { cat "$f" >&2; fail "valgrind: errors in $(basename "$f")"; }
done
grep -h "definitely lost\|indirectly lost\|ERROR SUMMARY" "$T"/logs/valgrind.*.txt >&2
grep -q 'thresholds refitted on\|refit order' "${LOGS[coordinator]}" || say "(no refit ran in this session)"
stop worker-1
stop worker-2
say "ok"
