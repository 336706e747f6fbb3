#!/bin/bash
# Label propagation end to end: a coordinator with a linear model, active
# learning and the validation sample on (deploy/loop.yaml with a larger
# sample), two workers, 300 digits without labels. A SIMULATED reviewer
# answers 200 items from the truth (among them the validation sample);
# then `annotatectl propagate` has the active_learning actor spread the
# known labels over the kNN graph. The results whose confidence meets the
# class thresholds fitted on the validation sample are stored as source
# propagation: they must exist, be right at least as often as the claimed
# lower bound says, never replace a person's label, and show in stats.
. "$(dirname "$0")/lib.sh"
need_binaries

sed -e 's/^\( *min_train:\).*/\1 30/' -e 's/^\( *retrain_after:\).*/\1 40/' \
    -e 's/^\( *validation_rate:\).*/\1 0.4/' -e 's/^\( *validation_share:\).*/\1 0.5/' \
    "$SRC/deploy/loop.yaml" >"$T/loop.yaml"
grep -q '^ *validation_rate: 0.4' "$T/loop.yaml" || fail "could not derive the test manifest"

start_coordinator --manifest "$T/loop.yaml"
start_worker worker-1
start_worker worker-2
wait_workers 2
jq -c 'del(.label)' "$SRC/tests/data/fixtures/digits-300.jsonl" >"$T/items.jsonl"
N=$(wc -l <"$T/items.jsonl")
expect_rc 0 ctl -o json ingest "$T/items.jsonl" --no-progress
wait_idle $((60 * SLOW)) "$N"

say "simulated reviewer: 200 answers"
$PY "$SRC/deploy/simulated_reviewer.py" --addr "$ADDR" --data "$T/items.jsonl" --budget 200 \
    --delay 0.02 --error-rate 0 --report-every 100 --settle 10 --annotator sim \
    >"$T/sim.out" 2>"$T/sim.err" || { cat "$T/sim.out" "$T/sim.err" >&2; fail "simulated reviewer"; }
expect_rc 0 ctl -o json stats
human=$(jq -r '[.sources[] | select(.source == "human") | .count | tonumber] | add // 0' "$T/out")
[ "$human" -ge 200 ] || fail "human labels before propagation: $human"

say "annotatectl propagate"
expect_rc 0 ctl -o json propagate --reason test
order=$(jq -r '.order' "$T/out")
for _ in $(seq $((30 * SLOW))); do
    grep -q "propagation order $order done" "${LOGS[coordinator]}" && break
    sleep 1
done
grep "propagation order $order" "${LOGS[coordinator]}" >&2
grep -q "propagation order $order done" "${LOGS[coordinator]}" || fail "propagation order $order did not finish"
claimed=$(sed -n "s/.*propagation order $order done: .*claimed accuracy >= \([0-9.]*\).*/\1/p" "${LOGS[coordinator]}")

ctl --timeout 10 -o json ls --all --source propagation >"$T/prop.json" || fail "ls --source propagation"
$PY - "$T/prop.json" "$T/items.jsonl" "$claimed" <<'PY' || fail "propagated labels"
import json, sys
truth = {}
for line in open(sys.argv[2]):
    d = json.loads(line)
    truth[d["id"]] = d["meta"]["truth"]
items = json.load(open(sys.argv[1])).get("items", [])
claimed = float(sys.argv[3] or 0)
right = sum(1 for it in items if it["label"]["label"] == truth[it["id"]])
print(f"propagated {len(items)} labels, {right} right, claimed lower bound {claimed:.3f}", file=sys.stderr)
assert items, "nothing was propagated"
assert right / len(items) >= claimed, f"measured {right / len(items):.3f} < claimed {claimed:.3f}"
PY
expect_rc 0 ctl -o json stats
eq "$(jq -r '[.sources[] | select(.source == "human") | .count | tonumber] | add // 0' "$T/out")" "$human" \
    "people's labels after propagation (none replaced)"
eq "$(jq -r '[.sources[] | select(.source == "propagation") | .count | tonumber] | add // 0' "$T/out")" \
    "$(jq '.items | length' "$T/prop.json")" "stats: propagated labels"
one=$(jq -r '.items[0].id' "$T/prop.json")
expect_rc 0 ctl -o json get "$one"
eq "$(jq -r '.status' "$T/out" | tr 'A-Z' 'a-z' | sed 's/status_//')" accepted "a propagated item's status"
say "ok"
