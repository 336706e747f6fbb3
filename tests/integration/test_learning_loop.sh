#!/bin/bash
# The learning loop end to end, through annotatectl: a coordinator with a
# linear-model manifest (deploy/loop.yaml with min_train 40) and two
# workers. 300 digits go in without labels, so every event is source none;
# 40 human labels (4 per digit, from meta.truth) make the cold-start retrain
# train version 1; the items are then re-annotated by that version, and the
# machine labels must beat a threshold against the truth. Then a manual
# retrain makes version 2, both are listed with metrics, a rollback makes
# version 1 current again, a label outside the taxonomy is refused (exit 5)
# and a correction adds exactly one human event to an item's history.
. "$(dirname "$0")/lib.sh"
need_binaries

# Accuracy threshold over the 260 items no person labelled, items without a
# label counting as wrong. Chance is 0.10 (10 balanced classes). Version 1
# (34 of the 40 labels for training, 6 held out) measured 0.792 with
# deploy/loop.yaml's features (max-normalised pixels x 2, C 2) and 0.758
# with x 1, C 1; scikit-learn's logistic regression on all 40 gets 0.785.
# 0.70 leaves room for online steps and solver changes, and still fails for
# a model that learned nothing, a re-annotation that did not reach the items,
# or a bad feature scaling (l2 x 1, C 1 measured 0.527 here and failed).
MIN_ACCURACY=0.70

# ---- the cluster -------------------------------------------------------------
sed -e 's/^\( *min_train:\).*/\1 40/' -e 's/^\( *retrain_after:\).*/\1 1000/' \
    "$SRC/deploy/loop.yaml" >"$T/loop.yaml"
# publish whatever is trained, so the manual retrain surely becomes current
printf '  publish_tolerance: 1\n' >"$T/model-extra"
sed -i "/^ *retrain_after:/r $T/model-extra" "$T/loop.yaml"
grep -q '^ *min_train: 40' "$T/loop.yaml" || fail "could not derive the test manifest"

start_coordinator --manifest "$T/loop.yaml"
start_worker worker-1
start_worker worker-2
wait_workers 2

# the fixture has no gold labels; strip any, to be sure
jq -c 'del(.label)' "$SRC/tests/data/fixtures/digits-300.jsonl" >"$T/items.jsonl"
N=$(wc -l <"$T/items.jsonl")
eq "$N" 300 "items in the fixture"

say "ingest $N items without labels"
expect_rc 0 ctl -o json ingest "$T/items.jsonl" --no-progress
eq "$(jq -r '.accepted' "$T/out")" "$N" "ingest: accepted"
wait_idle $((60 * SLOW)) "$N"
expect_rc 0 ctl -o json watch --after 0 --count "$N" --idle-timeout 5
eq "$(jq -r '.source' "$T/out" | sort -u | tr '\n' ' ')" "none " "sources before any label"
status_json || fail "status"
eq "$(sfield '.current_model // 0 | tonumber')" 0 "current model before any label"
expect_rc 0 ctl models
expect_in "$T/out" 'no model versions yet' "models before any training"
expect_rc 5 ctl retrain
expect_in "$T/err" '^annotatectl: retrain: FAILED_PRECONDITION: .*too few' "retrain with no labels"

# ---- helpers ------------------------------------------------------------------

# ls_all: every item's summary into $T/ls.json (an array).
ls_all() {
    ctl --timeout 10 -o json ls --all >"$T/ls.raw" 2>"$T/ls.err" || return 1
    jq '.items' "$T/ls.raw" >"$T/ls.json"
}

# measure: prints "ACCURACY STALE N" over the items not labelled by a
# person: accuracy against meta.truth (source none counts as wrong) and how
# many do not carry model version $1 with source model.
measure() {
    ls_all || return 1
    $PY - "$T/items.jsonl" "$T/ls.json" "$1" <<'EOF'
import json, sys
truth = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    truth[d["id"]] = d["meta"]["truth"]
items = json.load(open(sys.argv[2]))
want = int(sys.argv[3])
n = ok = stale = 0
for s in items:
    lab = s.get("label") or {}
    if lab.get("source") in ("human", "gold"):
        continue
    n += 1
    ok += lab.get("source") == "model" and lab.get("label") == truth[s["id"]]
    stale += not (lab.get("source") == "model" and int(lab.get("model_version") or 0) == want)
print(f"{ok / n if n else 0:.3f} {stale} {n}")
EOF
}

# wait_current V SECONDS: until status says model V is current.
wait_current() {
    local v=$1 secs=$2 i cur=
    for ((i = 0; i < secs * 5; i++)); do
        if status_json; then
            cur=$(sfield '.current_model // 0 | tonumber')
            [ "$cur" = "$v" ] && return 0
        fi
        sleep 0.2
    done
    fail "model $v not current within $secs s (current: ${cur:-?})"
}

# wait_reannotated V SECONDS: until every item no person labelled carries
# source model and version V; leaves the last measurement in $MEASURE.
wait_reannotated() {
    local v=$1 secs=$2 i
    for ((i = 0; i < secs * 2; i++)); do
        MEASURE=$(measure "$v") || fail "ls --all failed: $(cat "$T/ls.err")"
        [ "$(echo "$MEASURE" | cut -d' ' -f2)" = 0 ] && return 0
        sleep 0.5
    done
    fail "items not re-annotated by model $v within $secs s (accuracy stale n: $MEASURE)"
}

# ---- 40 human labels: the cold start -------------------------------------------
jq -r '"\(.id) \(.meta.truth)"' "$T/items.jsonl" |
    awk '{ if (seen[$2]++ < 4) print }' >"$T/pick.txt"
eq "$(wc -l <"$T/pick.txt")" 40 "items picked for labelling"
say "label 40 items (4 per digit)"
while read -r id truth; do
    expect_rc 0 ctl label "$id" "$truth" --by test
    expect_in "$T/out" '^seq [0-9]+$' "label prints the event seq"
done <"$T/pick.txt"
status_json || fail "status"
eq "$(sfield '.human_labels | tonumber')" 40 "status.human_labels"

say "wait for the cold-start model"
for ((i = 0; i < 60 * SLOW * 2; i++)); do
    ctl -o json models >"$T/models.json" 2>/dev/null &&
        [ "$(jq '[.[] | select(.status == "current" or .status == "published")] | length' \
             "$T/models.json")" -ge 1 ] && break
    sleep 0.5
done
[ "$(jq 'length' "$T/models.json")" -ge 1 ] || fail "no model version within 60 s"
cp "$T/models.json" "$T/models1.json"
eq "$(jq -r '.[0].version | tonumber' "$T/models1.json")" 1 "first version"
eq "$(jq -r '.[0].status' "$T/models1.json")" current "version 1 status"
eq "$(jq -r '.[0].n_train + .[0].n_valid | tonumber' "$T/models1.json")" 40 "version 1 trained on the 40 labels"
wait_current 1 $((20 * SLOW))

say "re-annotation by version 1"
wait_reannotated 1 $((60 * SLOW))
ACC1=$(echo "$MEASURE" | cut -d' ' -f1)
say "machine accuracy with 40 human labels: $ACC1 over $(echo "$MEASURE" | cut -d' ' -f3) items (threshold $MIN_ACCURACY)"
$PY -c "import sys; sys.exit(0 if $ACC1 >= $MIN_ACCURACY else 1)" ||
    fail "accuracy $ACC1 below $MIN_ACCURACY with model version 1"

# one item's history: none first, then model version 1
ID=$(jq -r '[.[] | select(.label.source == "model")][0].id' "$T/ls.json")
expect_rc 0 ctl -o json get "$ID"
cp "$T/out" "$T/get1.json"
eq "$(jq -r '.history[0].label.source' "$T/get1.json")" none "$ID: first event"
eq "$(jq -r '.history[-1].label.source' "$T/get1.json")" model "$ID: last event"
eq "$(jq -r '.history[-1].label.model_version | tonumber' "$T/get1.json")" 1 "$ID: last event's model"
eq "$(jq -r '.label.model_version | tonumber' "$T/get1.json")" 1 "$ID: current label's model"
expect_rc 0 ctl watch --after 0 --source model --count 1 --idle-timeout 5 -o json
eq "$(jq -r '.model_version | tonumber' "$T/out")" 1 "watch --source model: model_version"

# ---- a manual retrain: version 2 ------------------------------------------------
say "retrain by hand"
expect_rc 0 ctl retrain --reason "integration test"
expect_in "$T/out" '^order +[0-9]+' "retrain prints the order"
expect_in "$T/out" '^worker +worker-2' "retrain names the worker with the retraining actor"
wait_current 2 $((60 * SLOW))
expect_rc 0 ctl -o json models
cp "$T/out" "$T/models2.json"
eq "$(jq -r '[.[].version | tonumber] | join(",")' "$T/models2.json")" 1,2 "versions listed"
eq "$(jq -r '.[1].parent | tonumber' "$T/models2.json")" 1 "version 2's parent"
eq "$(jq -r '[.[] | select(.accuracy > 0 and (.n_valid | tonumber) > 0 and (.classes | length) == 10)] | length' \
   "$T/models2.json")" 2 "both versions have accuracy, validation size and 10 class metrics"
expect_rc 0 ctl models
expect_in "$T/out" '^VERSION +STATUS +ACCURACY +BASELINE +ECE +N_TRAIN +N_VALID +TRAIN_MS +CREATED +TRAINED_BY' "models table header"
expect_in "$T/out" '^1 +published ' "models table: version 1"
expect_in "$T/out" '^2 +current ' "models table: version 2"
expect_rc 0 ctl models --classes
expect_in "$T/out" '^VERSION +CLASS +PRECISION +RECALL +SUPPORT' "models --classes header"

# ---- rollback ---------------------------------------------------------------------
say "rollback to version 1"
expect_rc 0 ctl rollback 1
expect_in "$T/out" 'version 1' "rollback output"
wait_current 1 $((10 * SLOW))
expect_rc 0 ctl status
expect_in "$T/out" '^model +version 1 current' "status table: current model"
expect_rc 0 ctl -o json models
eq "$(jq -r '.[] | select(.status == "current") | .version | tonumber' "$T/out")" 1 "models: current after rollback"
expect_rc 3 ctl rollback 99
expect_rc 2 ctl rollback zero

# ---- bad labels, corrections ---------------------------------------------------------
say "labels outside the taxonomy, unknown ids"
expect_rc 5 ctl label "$ID" eleven
expect_in "$T/err" 'INVALID_ARGUMENT' "label outside the taxonomy"
expect_rc 3 ctl label no-such-item 3
expect_rc 2 ctl label "$ID"

say "a correction"
expect_rc 0 ctl get "$ID" -o json
before=$(jq '.history | length' "$T/out")
truth=$(jq -r --arg id "$ID" 'select(.id == $id) | .meta.truth' "$T/items.jsonl")
expect_rc 0 ctl label "$ID" "$truth" --by corrector
seq=$(sed -n 's/^seq //p' "$T/out")
expect_rc 0 ctl -o json get "$ID"
eq "$(jq '.history | length' "$T/out")" $((before + 1)) "$ID: history grew by one"
eq "$(jq '[.history[] | select(.label.source == "human")] | length' "$T/out")" 1 "$ID: human events"
eq "$(jq -r '.history[-1].seq | tonumber' "$T/out")" "$seq" "$ID: the event seq label printed"
eq "$(jq -r '.label.source' "$T/out")" human "$ID: current source"
eq "$(jq -r '.label.annotator' "$T/out")" corrector "$ID: annotator"
eq "$(jq -r '.label.label' "$T/out")" "$truth" "$ID: current label"
status_json || fail "status"
eq "$(sfield '.human_labels | tonumber')" 41 "status.human_labels after the correction"
[ "$(sfield '.retrains | tonumber')" -ge 2 ] || fail "status.retrains: $(sfield .retrains), want >= 2"

stop worker-1
stop worker-2
stop_coordinator
say "ok (accuracy with 40 labels: $ACC1)"
