#!/bin/bash
# Hostile and broken input from every side: bad manifests (at start and
# through apply), a worker speaking another protocol version, JSONL files
# with bad lines, unreachable and missing things, garbage on the ZeroMQ
# port, and a second coordinator on ports already taken. Nothing may crash
# the coordinator, and every error must say where the problem is.
. "$(dirname "$0")/lib.sh"
need_binaries
COORD=$BIN/annotate-coordinator

# ---- bad manifests at start --------------------------------------------------
say "bad manifests given to the coordinator"
printf 'cluster:\n  name: t\n coordinator: {\n' >"$T/bad-syntax.yaml"
printf 'cluster:\n  name: t\ncoordinator:\n  heartbeat_ms: 1000\n  bogus_key: 7\n' >"$T/bad-unknown.yaml"
printf 'cluster:\n  name: t\ncoordinator:\n  batch_size: lots\n' >"$T/bad-type.yaml"
printf 'cluster:\n  name: t\nitems:\n  vector_dim: 64\ntaxonomy:\n  labels: [{name: a}, {name: a}]\n' >"$T/bad-dup-label.yaml"
for f in bad-syntax bad-unknown bad-type; do
    expect_rc 1 timeout 30 "$COORD" --manifest "$T/$f.yaml" --data-dir "$T/d-$f" \
        --grpc-listen "$ADDR" --cluster-bind "$ENDPOINT"
    expect_in "$T/err" "$f\.yaml:[0-9]+:[0-9]+: " "coordinator --manifest $f.yaml: file:line:col"
done
expect_rc 1 timeout 30 "$COORD" --manifest "$T/bad-unknown.yaml" --data-dir "$T/d-x" --grpc-listen "$ADDR" --cluster-bind "$ENDPOINT"
expect_in "$T/err" 'bad-unknown\.yaml:5:3: .*bogus_key' "unknown key: its line and column"
expect_in "$T/err" 'unknown key' "unknown key: the problem"
expect_rc 1 timeout 30 "$COORD" --manifest "$T/bad-type.yaml" --data-dir "$T/d-x" --grpc-listen "$ADDR" --cluster-bind "$ENDPOINT"
expect_in "$T/err" 'bad-type\.yaml:4:[0-9]+: .*batch_size.*expected' "wrong type: line, key and what was expected"
expect_rc 1 timeout 30 "$COORD" --manifest "$T/no-such.yaml" --data-dir "$T/d-x" --grpc-listen "$ADDR" --cluster-bind "$ENDPOINT"
expect_in "$T/err" 'no-such\.yaml' "missing manifest file named"
for f in "$SRC"/tests/data/manifests/bad-*.yaml; do
    expect_rc 1 timeout 30 "$COORD" --manifest "$f" --data-dir "$T/d-x" --grpc-listen "$ADDR" --cluster-bind "$ENDPOINT"
    expect_in "$T/err" "$(basename "$f" | sed 's/\./\\./g'):[0-9]+:[0-9]+: " "coordinator --manifest $(basename "$f")"
done

# ---- a running cluster --------------------------------------------------------
start_coordinator
start_worker worker-1
start_worker worker-2
wait_workers 2

say "apply: bad manifests are rejected with file:line:col"
for f in bad-syntax bad-unknown bad-type bad-dup-label; do
    expect_rc 5 ctl apply -f "$T/$f.yaml"
    expect_in "$T/err" "$f\.yaml:[0-9]+:[0-9]+: " "apply -f $f.yaml"
done
expect_rc 5 ctl apply -f "$T/bad-unknown.yaml"
expect_in "$T/err" 'INVALID_ARGUMENT.*bad-unknown\.yaml:5:3: .*bogus_key' "apply: unknown key, its position"
expect_rc 2 ctl apply -f "$T/no-such.yaml"

say "apply --dry-run changes nothing"
status_json || fail status
v0=$(sfield '.manifest_version')
cp "$SRC/deploy/default.yaml" "$T/default.yaml"
expect_rc 0 "$COORD" --print-manifest
cmp -s "$T/out" "$T/default.yaml" || fail "--print-manifest: not the embedded deploy/default.yaml ($(wc -c <"$T/out") bytes)"
sed -e 's/batch_size: 256/batch_size: 128/' -e 's/    - { name: "9", description: "the digit nine" }/&\n    - { name: "ten", description: "not a digit" }/' \
    "$T/default.yaml" >"$T/good.yaml"
cmp -s "$T/default.yaml" "$T/good.yaml" && fail "could not edit the default manifest"
expect_rc 0 ctl -o json apply -f "$T/good.yaml" --dry-run
cp "$T/out" "$T/dry.json"
eq "$(jq -r '.applied' "$T/dry.json")" false "dry run: applied"
eq "$(jq -r '.version' "$T/dry.json")" 0 "dry run: version"
jq -e '.changes | any(test("batch_size: 256 -> 128"))' "$T/dry.json" >/dev/null || fail "dry run: batch_size change not listed: $(cat "$T/dry.json")"
jq -e '.changes | any(test("add label ten"))' "$T/dry.json" >/dev/null || fail "dry run: new label not listed: $(cat "$T/dry.json")"
expect_rc 0 ctl apply -f "$T/good.yaml" --dry-run          # the table form
expect_in "$T/out" "dry run" "dry run (table)"
status_json || fail status
eq "$(sfield '.manifest_version')" "$v0" "manifest_version after a dry run"
eq "$(sfield '.labels | length')" 10 "labels after a dry run"
expect_rc 6 ctl ingest - --no-progress <<<'{"id":"ten-1","vector":'"$(jq -c '[range(64)] | map(1.0)' <<<null)"',"label":"ten"}'
expect_rc 0 ctl -o json apply -f "$T/default.yaml" --dry-run
eq "$(jq -r '.changes | length' "$T/out")" 0 "dry run of the manifest in force: changes"

# ---- a worker of another protocol version ------------------------------------
say "worker with the wrong protocol version"
start_worker worker-old --protocol-version 2
wait_exit worker-old $((15 * SLOW)) || fail "a worker of protocol 2 was not turned away within $((15 * SLOW)) s"
[ "$EXIT_RC" != 0 ] || fail "the rejected worker exited 0"
expect_in "${LOGS[worker-old]}" '[Rr]eject|protocol' "the rejected worker says why"
alive coordinator || fail "the coordinator died after a bad worker"
status_json || fail status
[ "$(sfield '[.workers[] | select(.name == "worker-old" and .state == "alive")] | length')" = 0 ] \
    || fail "the rejected worker is listed alive"

# ---- JSONL with bad lines -------------------------------------------------------
say "JSONL with bad lines"
vec=$(jq -c '[range(64)] | map(. % 17 | . * 1.0)' <<<null)
vec63=$(jq -c '[range(63)] | map(1.0)' <<<null)
good() { printf '{"id":"%s","vector":%s}\n' "$1" "$vec"; }
{
    good good-1                                         # 1
    printf '{"id": "broken", "vector": [1, 2,\n'        # 2  bad JSON
    good good-2                                         # 3
    printf '{"vector":%s}\n' "$vec"                     # 4  no id
    printf '{"id":"bad-\xff\xfe","vector":%s}\n' "$vec" # 5  invalid UTF-8
    good good-3                                         # 6
    printf '{"id":["x"],"vector":%s}\n' "$vec"          # 7  id of the wrong type
    printf '{"id":"typo","vector":%s,"lable":"3"}\n' "$vec"  # 8  unknown key
    good good-4                                         # 9
    good good-5                                         # 10
} >"$T/bad.jsonl"
expect_rc 6 ctl -o json ingest "$T/bad.jsonl" --no-progress
cp "$T/err" "$T/bad.err"
for l in 2 4 5 7 8; do
    expect_in "$T/bad.err" "bad\.jsonl:$l: " "bad line $l reported with its number"
done
for l in 1 3 6 9 10; do
    grep -q "bad\.jsonl:$l: " "$T/bad.err" && fail "good line $l reported as bad: $(cat "$T/bad.err")"
done
expect_in "$T/bad.err" 'bad\.jsonl:4: .*id' "missing id: names the field"
expect_in "$T/bad.err" 'bad\.jsonl:7: .*id' "id of the wrong type: names the field"
expect_in "$T/bad.err" 'bad\.jsonl:8: .*lable' "unknown key: names the key"
eq "$(jq -r '.accepted' "$T/out")" 5 "bad file: accepted"
eq "$(jq -r '.skipped_lines' "$T/out")" 5 "bad file: skipped_lines"
for i in 1 2 3 4 5; do expect_rc 0 ctl get "good-$i"; done
for id in broken typo; do expect_rc 3 ctl get "$id"; done

say "--strict stops at the first bad line"
sed 's/"id":"good-/"id":"strict-/' "$T/bad.jsonl" >"$T/strict.jsonl"
expect_rc 5 ctl ingest "$T/strict.jsonl" --strict --no-progress
expect_in "$T/err" 'strict\.jsonl:2: ' "--strict: the first bad line"
grep -q 'strict\.jsonl:4: ' "$T/err" && fail "--strict went past the first bad line"
expect_rc 3 ctl get strict-2
expect_rc 3 ctl get strict-5

# ---- unreachable, missing, usage --------------------------------------------------
say "exit codes: unreachable, not found, usage"
alloc_port CLOSED_PORT
for cmd in status health "get x" "ls" "watch --count 1"; do
    # shellcheck disable=SC2086
    expect_rc 4 "$BIN/annotatectl" --addr "127.0.0.1:$CLOSED_PORT" --timeout 3 $cmd
done
expect_rc 4 "$BIN/annotatectl" --addr "127.0.0.1:$CLOSED_PORT" --timeout 3 ingest "$T/bad.jsonl" --no-progress
expect_in "$T/err" "127\.0\.0\.1:$CLOSED_PORT" "unreachable: names the address"
expect_rc 3 ctl get no-such-item
expect_in "$T/err" 'NOT_FOUND' "get of a missing id"
expect_rc 2 ctl get
expect_rc 2 ctl frobnicate
expect_rc 2 ctl ls --status nonsense
expect_rc 2 ctl ingest "$T/no-such.jsonl"

# ---- garbage on the ZeroMQ port -----------------------------------------------------
say "garbage ZeroMQ traffic"
status_json || fail status
seq0=$(sfield '.last_seq | tonumber')
grc=0
timeout 120 $PY "$SRC/tests/integration/zmq_garbage.py" "$ENDPOINT" --seed $RANDOM >"$T/garbage.out" 2>&1 || grc=$?
if [ $grc = 77 ]; then
    say "SKIP part: no libzmq for Python ($(cat "$T/garbage.out"))"
elif [ $grc != 0 ]; then
    cat "$T/garbage.out" >&2
    fail "zmq_garbage.py failed with $grc"
fi
# and raw bytes on the gRPC port
head -c 5000 /dev/urandom >"$T/noise"
timeout 5 bash -c "cat '$T/noise' >/dev/tcp/127.0.0.1/$GRPC_PORT" 2>/dev/null || true
sleep 1
alive coordinator || fail "the coordinator died on garbage input"
expect_rc 0 ctl health
status_json || fail "status after garbage"
eq "$(sfield '.last_seq | tonumber')" "$seq0" "label events created by garbage"
wait_workers 2
# the good workers keep working
digits --limit 300 | sed 's/"id":"digit-/"id":"after-garbage-/' >"$T/after.jsonl"
expect_rc 0 ctl -o json ingest "$T/after.jsonl" --no-progress
wait_idle $((60 * SLOW)) $((seq0 + 300))
expect_rc 0 ctl -o json watch --after "$seq0" --count 300 --idle-timeout 5
$PY "$SRC/tests/integration/check_events.py" "$T/out" --after "$seq0" --items "$T/after.jsonl" \
    --source none --workers worker-1,worker-2 || fail "labelling after garbage"

# ---- ports already taken -------------------------------------------------------------
say "a second coordinator on the same ports"
alloc_port OTHER_PORT
expect_rc 1 timeout 30 "$COORD" --data-dir "$T/data2" --grpc-listen "$ADDR" --cluster-bind "tcp://127.0.0.1:$OTHER_PORT"
expect_in "$T/err" "$GRPC_PORT" "gRPC port in use: names the address"
expect_rc 1 timeout 30 "$COORD" --data-dir "$T/data3" --grpc-listen "127.0.0.1:$OTHER_PORT" --cluster-bind "$ENDPOINT"
expect_in "$T/err" "$CLUSTER_PORT" "cluster port in use: names the endpoint"
expect_rc 0 ctl health
expect_rc 0 ctl get good-1

# Last, because annotatectl can only learn the dimension from the server:
# a line whose vector has the wrong dimension is still one bad line,
# reported with its number and skipped, and the good lines are stored.
say "JSONL with a vector of the wrong dimension"
{
    good dim-good-1
    printf '{"id":"dim-short","vector":%s}\n' "$vec63"
    good dim-good-2
} >"$T/dim.jsonl"
expect_rc 6 ctl -o json ingest "$T/dim.jsonl" --no-progress
expect_in "$T/err" 'dim\.jsonl:2: .*vector' "wrong dimension: line number and field"
eq "$(jq -r '.accepted' "$T/out")" 2 "wrong dimension: good lines accepted"
expect_rc 0 ctl get dim-good-1
expect_rc 0 ctl get dim-good-2
expect_rc 3 ctl get dim-short
expect_rc 5 ctl ingest "$T/dim.jsonl" --strict --no-progress

stop_coordinator
stop worker-1
stop worker-2
say "ok"
