#!/bin/bash
# The coordinator under valgrind (memcheck, definite and indirect leaks are
# errors) through a small but complete session: workers join, 500 items are
# ingested and labelled, every read call, the error paths of ingest, apply
# and unknown ids, a watch, then SIGTERM. Any valgrind error fails the test.
# Skipped in the sanitizer build (ASan and valgrind do not mix).
export ANNOTATE_VALGRIND=1
. "$(dirname "$0")/lib.sh"
[ "$SANITIZE" = 1 ] && skip "sanitizer build: valgrind does not run ASan binaries"
command -v valgrind >/dev/null || skip "valgrind is not installed"
need_binaries
M=500

digits --limit $M --gold 50 >"$T/items.jsonl"
start_coordinator
start_worker worker-1
start_worker worker-2
wait_workers 2 $((60 * SLOW / 2))

say "ingest $M items under valgrind"
expect_rc 0 ctl -o json ingest "$T/items.jsonl" --batch 100 --no-progress
eq "$(jq -r '.accepted' "$T/out")" $M "accepted"
wait_idle $((60 * SLOW / 2)) $M
expect_rc 0 ctl -o json watch --after 0 --count $M --idle-timeout 20
$PY "$SRC/tests/integration/check_events.py" "$T/out" --items "$T/items.jsonl" --source none \
    --workers worker-1,worker-2 || fail "event log"

# every read path and the common error paths, so valgrind sees them
expect_rc 0 ctl -o json get digit-0007
expect_rc 0 ctl -o json ls --all
expect_rc 0 ctl -o json ls --status accepted --limit 5
expect_rc 0 ctl status
expect_rc 0 ctl health
expect_rc 3 ctl get no-such-item
expect_rc 0 ctl -o json ingest "$T/items.jsonl" --no-progress           # all unchanged
jq -c 'select(.id == "digit-0003") | .vector[0] += 1' "$T/items.jsonl" >"$T/changed.jsonl"
expect_rc 5 ctl ingest "$T/changed.jsonl" --no-progress                 # ALREADY_EXISTS
printf '{"id":"short","vector":[1,2,3]}\n' >"$T/short.jsonl"
expect_rc 6 ctl ingest "$T/short.jsonl" --no-progress                   # wrong dimension: annotatectl skips the line
cp "$SRC/deploy/default.yaml" "$T/m.yaml"
expect_rc 0 ctl apply -f "$T/m.yaml" --dry-run
printf 'cluster:\n  name: t\n  bogus: 1\n' >"$T/bad.yaml"
expect_rc 5 ctl apply -f "$T/bad.yaml"
expect_rc 0 ctl -o json watch --from-now --idle-timeout 1

say "SIGTERM; valgrind must report no errors"
stop_coordinator
for f in "$T"/logs/valgrind.*.txt; do
    grep -q "ERROR SUMMARY: 0 errors" "$f" || { cat "$f" >&2; fail "valgrind: errors in $(basename "$f")"; }
done
grep -h "definitely lost\|indirectly lost\|ERROR SUMMARY" "$T"/logs/valgrind.*.txt >&2
stop worker-1
stop worker-2
say "ok"
