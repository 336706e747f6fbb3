#!/bin/bash
# The review loop end to end, on real processes: a coordinator with a
# linear model and active learning (deploy/loop.yaml, first model after 30
# labels), two workers, 300 digits without labels.
#   1. cold start: every item waits in the review queue (stats);
#   2. a person at `annotatectl review` (driven through a pipe): answers
#      an item, skips one, answers a third, undoes that answer and answers
#      it again, quits; the store shows exactly that (history, reason,
#      queue depth, the skipped item still queued);
#   3. a SIMULATED reviewer (deploy/simulated_reviewer.py, gRPC from
#      Python) answers the queue from the dataset's truth: models are
#      trained, machine labels are routed, and whatever the cluster
#      auto-accepts must measure at least the lower bound it claimed; the
#      active_learning actor refits thresholds between retrains;
#   4. a restart with a non-empty queue keeps the queue, and leasing goes on.
. "$(dirname "$0")/lib.sh"
need_binaries

sed -e 's/^\( *min_train:\).*/\1 30/' -e 's/^\( *retrain_after:\).*/\1 40/' \
    -e 's/^\( *lease_s:\).*/\1 30/' "$SRC/deploy/loop.yaml" >"$T/loop.yaml"
printf '  refit_every: 5\n' >>"$T/loop.yaml"   # active_learning is the last section
grep -q '^ *min_train: 30' "$T/loop.yaml" || fail "could not derive the test manifest"

start_coordinator --manifest "$T/loop.yaml"
start_worker worker-1
start_worker worker-2
wait_workers 2

jq -c 'del(.label)' "$SRC/tests/data/fixtures/digits-300.jsonl" >"$T/items.jsonl"
N=$(wc -l <"$T/items.jsonl")
expect_rc 0 ctl -o json ingest "$T/items.jsonl" --no-progress
wait_idle $((60 * SLOW)) "$N"

# stats_json: `annotatectl stats -o json` into $T/stats.json; stat JQ reads it.
stats_json() { ctl --timeout 5 -o json stats >"$T/stats.json" 2>"$T/stats.err" || fail "stats: $(cat "$T/stats.err")"; }
stat() { jq -r "$1" "$T/stats.json"; }

say "cold start: all $N items in the review queue"
stats_json
eq "$(stat '.queue_depth // 0 | tonumber')" "$N" "queue depth before any answer"
eq "$(stat '.queue_cold_start // 0 | tonumber')" "$N" "cold-start items queued"
eq "$(stat '.leased // 0 | tonumber')" 0 "leases before any review"

# ---- a person at the terminal (a pipe here) ---------------------------------------
say "annotatectl review: an answer, a skip, an answer, undo it, answer again, quit"
printf '/3\n,\n/4\n<\n/5\nq\n' >"$T/keys"
ctl review --reviewer alice --batch 5 <"$T/keys" >"$T/review.out" 2>"$T/review.err" \
    || { cat "$T/review.out" "$T/review.err" >&2; fail "annotatectl review exited $?"; }
stats_json
eq "$(stat '.reviews // 0 | tonumber')" 3 "human label events (2 answers + 1 redone by undo)"
eq "$(stat '.queue_depth // 0 | tonumber')" $((N - 2)) "queue depth after two answered items"
eq "$(stat '.leased // 0 | tonumber')" 0 "leases given back on quit"
# which items: alice's human labels, from the item list
ctl --timeout 10 -o json ls --all --source SOURCE_HUMAN >"$T/human.json" 2>"$T/ls.err" \
    || ctl --timeout 10 -o json ls --all >"$T/human.json"
jq -r '.items[] | select(.label.source == "SOURCE_HUMAN" or .label.source == "human") | .id' \
    "$T/human.json" | sort >"$T/human.ids"
eq "$(wc -l <"$T/human.ids")" 2 "items with a human label"
second=$(jq -r '.items[] | select((.label.source == "SOURCE_HUMAN" or .label.source == "human") and .label.label == "5") | .id' "$T/human.json")
[ -n "$second" ] || fail "no item carries the answer given after undo (5)"
expect_rc 0 ctl -o json get "$second"
eq "$(jq '[.history[] | select(.label.source == "SOURCE_HUMAN" or .label.source == "human")] | length' "$T/out")" 2 \
    "human events of the undone item (4, then 5)"
eq "$(jq -r '[.history[] | select(.label.source == "SOURCE_HUMAN" or .label.source == "human")][0].label.annotator' "$T/out")" \
    alice "annotator of the first answer"
jq -r '[.history[] | select(.label.source == "SOURCE_HUMAN" or .label.source == "human")][0].label.reason' "$T/out" \
    | grep -qi 'cold' || fail "the review answer does not record its reason (cold start): $(cat "$T/out")"

# ---- the simulated reviewer ---------------------------------------------------------
say "simulated reviewer: 200 answers from the truth"
$PY "$SRC/deploy/simulated_reviewer.py" --addr "$ADDR" --data "$T/items.jsonl" --budget 200 \
    --delay 0.03 --error-rate 0 --report-every 50 --settle 20 --annotator sim \
    >"$T/sim.out" 2>"$T/sim.err" || { cat "$T/sim.out" "$T/sim.err" >&2; fail "simulated reviewer"; }
cat "$T/sim.out" >&2
whole=$(sed -n 's/.*whole dataset accuracy \([0-9.]*\).*/\1/p' "$T/sim.out")
[ -n "$whole" ] || fail "no whole-dataset accuracy in the reviewer's report"
# 202 of 300 items carry a person's label; the other 98 need the model.
awk -v w="$whole" 'BEGIN { exit !(w >= 0.85) }' || fail "whole-dataset accuracy $whole < 0.85"
stats_json
[ "$(stat '.current_model // 0 | tonumber')" -ge 2 ] || fail "fewer than two model versions trained"
[ "$(stat '.validation_labels // 0 | tonumber')" -gt 0 ] || fail "no validation-sample answers"
auto=$(sed -n 's/^auto-accepted: \([0-9]*\) labels, measured accuracy \([0-9.]*\); the cluster estimated [0-9.]* \[\([0-9.]*\),.*/\1 \2 \3/p' "$T/sim.out")
[ -n "$auto" ] || fail "no auto-accept line in the reviewer's report"
read -r n_auto measured claimed_lo <<<"$auto"
if [ "$n_auto" -gt 0 ]; then
    awk -v m="$measured" -v l="$claimed_lo" 'BEGIN { exit !(m >= l) }' \
        || fail "auto-accepted labels measure $measured, below the claimed lower bound $claimed_lo"
    say "auto-accepted $n_auto labels, measured $measured >= claimed lower bound $claimed_lo"
else
    say "nothing auto-accepted at this sample size (the bound did not allow it)"
fi

# between retrains, an active_learning actor refits the current model's
# thresholds as the validation sample grows (cluster_refit.c)
grep -q 'thresholds refitted on' "${LOGS[coordinator]}" \
    || { grep -i refit "${LOGS[coordinator]}" >&2; fail "no threshold refit by the active_learning actor"; }

# ---- restart with a non-empty queue -------------------------------------------------
depth=$(stat '.queue_depth // 0 | tonumber')
[ "$depth" -gt 0 ] || fail "the queue emptied; the restart check needs a non-empty one"
say "restart with $depth items queued"
stop_coordinator
start_coordinator --manifest "$T/loop.yaml"
wait_workers 2
stats_json
eq "$(stat '.queue_depth // 0 | tonumber')" "$depth" "queue depth after the restart"
printf 'q\n' >"$T/keys"
ctl review --reviewer bob --batch 3 <"$T/keys" >"$T/review2.out" 2>"$T/review2.err" \
    || { cat "$T/review2.out" "$T/review2.err" >&2; fail "annotatectl review after the restart"; }
grep -q . "$T/review2.out" || fail "annotatectl review showed nothing after the restart"
stats_json
eq "$(stat '.leased // 0 | tonumber')" 0 "bob's unanswered leases given back"
say "ok"
