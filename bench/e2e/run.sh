#!/bin/bash
# End-to-end benchmark of the learning loop on the SpamAssassin corpus, beside
# a Python pipeline doing the same work, in the same run.
#
#   bench/e2e/run.sh [RUNS=3] [--perf] [--keep]
#
# Each run, alternating cluster and Python, each with fresh data dirs:
#  cluster: a coordinator (bench/data/out/spam.yaml with a linear model that
#    neither re-annotates nor trains by itself, see manifest.py) and two
#    workers on free loopback ports. The training part goes in with gold
#    labels, `annotatectl retrain` trains version 1, and once `annotatectl
#    models` shows it current the rest goes in without labels. Measured: from
#    the start of that ingest until `annotatectl watch --from-now --source
#    model` (started before it) has seen a model label event for every item
#    of the rest. That covers reading the JSONL, IngestStream, the items'
#    durable commit, dispatch, featurising, prediction, the labels' durable
#    commit and the watch stream.
#  python: bench/e2e/python_pipeline.py on the same split: HashingVectorizer +
#    SGDClassifier fitted on the training part (not timed), then per batch of
#    256: vectorise, predict_proba, one LMDB write transaction (sync commits).
# Prints a table of medians and the cluster/python ratio; per-run JSON lines
# go to stderr.
#
# --perf: after the timed runs, one more cluster run with `perf record -g`
#    attached to the coordinator and both workers during the measured phase;
#    the reports are written to bench/data/out/e2e-perf/ (git-ignored).
# --keep: keep the work dir (logs, watch output) and say where it is.
#
# Environment: BUILD (default build/, configured RelWithDebInfo),
# SPAM (default bench/data/out/spam.jsonl, made by bench/data/prepare.sh when
# missing), TRAIN_PERCENT (default 25).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/e2e
runs=3 perf=0 keep=0
for a in "$@"; do
    case $a in
        --perf) perf=1 ;;
        --keep) keep=1 ;;
        ''|*[!0-9]*) echo "usage: $0 [RUNS] [--perf] [--keep]" >&2; exit 2 ;;
        *) runs=$a ;;
    esac
done
[ "$runs" -ge 1 ] || { echo "RUNS must be at least 1" >&2; exit 2; }
build=${BUILD:-$root/build}
spam=${SPAM:-$root/bench/data/out/spam.jsonl}
py=/usr/bin/python3

say() { printf '[%s e2e] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'e2e: error: %s\n' "$*" >&2; exit 1; }

if [ ! -s "$spam" ]; then
    say "no $spam: running bench/data/prepare.sh"
    "$root/bench/data/prepare.sh"
fi
say "building into $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target annotate-coordinator annotate-worker annotatectl >/dev/null

# The work dir is in /tmp, so the cluster's LMDB and Python's LMDB are on the
# same file system (and the same disk: check with df when reading results).
work=$(mktemp -d /tmp/annotate-e2e.XXXXXX)
port_locks=/tmp/annotate-it-ports        # shared with tests/integration/lib.sh
declare -A PIDS=()
my_ports=()

cleanup() {
    local rc=$? n i
    trap - EXIT INT TERM
    for n in "${!PIDS[@]}"; do kill -TERM "${PIDS[$n]}" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do
        local any=0
        for n in "${!PIDS[@]}"; do kill -0 "${PIDS[$n]}" 2>/dev/null && any=1; done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for n in "${!PIDS[@]}"; do kill -KILL "${PIDS[$n]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for p in "${my_ports[@]}"; do rmdir "$port_locks/$p" 2>/dev/null || true; done
    if [ $keep = 1 ] || [ $rc != 0 ]; then
        say "work dir kept: $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port below the ephemeral range, reserved with a lock dir so
# that parallel tests and benchmarks never pick the same one.
free_port() {
    mkdir -p "$port_locks"
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        mkdir "$port_locks/$p" 2>/dev/null || continue
        if $py -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' "$p" 2>/dev/null; then
            my_ports+=("$p")
            PORT=$p
            return 0
        fi
        rmdir "$port_locks/$p"
    done
    die "no free port"
}

spawn() {   # spawn NAME LOG CMD...
    local name=$1 log=$2
    shift 2
    setpriv --pdeathsig KILL -- "$@" >"$log" 2>&1 </dev/null &
    PIDS[$name]=$!
}

stop() {    # stop NAME: SIGTERM, wait up to 30 s, then SIGKILL
    local pid=${PIDS[$1]:-} i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PIDS[$1]"
}

now() { date +%s.%N; }
jf() { jq -r "$1" "$2"; }

# ---- the split and the manifest ----------------------------------------------
$py "$here/split.py" "$spam" "$work" --train-percent "${TRAIN_PERCENT:-25}" >"$work/split.json"
n_train=$(jf .train "$work/split.json")
n_rest=$(jf .rest "$work/split.json")
$py "$here/manifest.py" "${spam%.jsonl}.yaml" >"$work/e2e.yaml"
say "split: $n_train training items (gold labels), $n_rest to label"

# ---- one cluster run -----------------------------------------------------------
# cluster_run DIR [perf]: prints one JSON line with the run's figures.
cluster_run() {
    local d=$1 prof=${2:-} gp cp addr i
    mkdir -p "$d"
    free_port; gp=$PORT
    free_port; cp=$PORT
    addr=127.0.0.1:$gp
    local ctl=("$build/annotatectl" --addr "$addr")
    spawn coordinator "$d/coordinator.log" "$build/annotate-coordinator" --manifest "$work/e2e.yaml" \
        --data-dir "$d/data" --grpc-listen "$addr" --cluster-bind "tcp://127.0.0.1:$cp" --log-level info
    for ((i = 0; i < 300; i++)); do
        kill -0 "${PIDS[coordinator]}" 2>/dev/null || { cat "$d/coordinator.log" >&2; die "coordinator exited"; }
        grep -q ready "$d/coordinator.log" && "${ctl[@]}" --timeout 2 health >/dev/null 2>&1 && break
        sleep 0.1
    done
    # the right coordinator: ours says cluster "spam" and has no items yet
    "${ctl[@]}" -o json status >"$d/status0.json"
    [ "$(jf .cluster "$d/status0.json")" = spam ] && [ "$(jf '.items | tonumber' "$d/status0.json")" = 0 ] ||
        die "the coordinator on $addr is not this run's"
    for w in worker-1 worker-2; do
        spawn "$w" "$d/$w.log" "$build/annotate-worker" --coordinator "tcp://127.0.0.1:$cp" --name "$w" --log-level info
    done
    for ((i = 0; i < 200; i++)); do
        "${ctl[@]}" -o json status >"$d/status.json" 2>/dev/null &&
            [ "$(jq '[.workers[]? | select(.state == "alive")] | length' "$d/status.json")" = 2 ] && break
        sleep 0.1
    done
    [ "$(jq '[.workers[]? | select(.state == "alive")] | length' "$d/status.json")" = 2 ] || die "workers not alive"

    # the training part, with gold labels, then version 1
    local t_train0; t_train0=$(now)
    "${ctl[@]}" -o json ingest "$work/train.jsonl" --no-progress >"$d/ingest-train.json"
    [ "$(jf '.accepted | tonumber' "$d/ingest-train.json")" = "$n_train" ] || die "training ingest: $(cat "$d/ingest-train.json")"
    "${ctl[@]}" retrain --reason e2e-bench >"$d/retrain.txt"
    for ((i = 0; i < 1200; i++)); do
        "${ctl[@]}" -o json models >"$d/models.json" 2>/dev/null &&
            [ "$(jq '[.[] | select(.status == "current")] | length' "$d/models.json")" = 1 ] && break
        sleep 0.1
    done
    [ "$(jq '[.[] | select(.status == "current")] | length' "$d/models.json")" = 1 ] || die "no current model within 120 s"
    local t_model; t_model=$(now)
    # model chunks go out on the same ordered socket and actor pipe as later
    # batches, so no wait is needed for correctness; one second lets the
    # workers load it before the clock starts
    sleep 1

    # the measured phase
    setpriv --pdeathsig KILL -- "${ctl[@]}" -o json watch --from-now --source model \
        --count "$n_rest" --idle-timeout 120 >"$d/watch.jsonl" 2>"$d/watch.err" </dev/null &
    PIDS[watch]=$!
    sleep 0.5
    if [ -n "$prof" ]; then
        local p
        for p in coordinator worker-1 worker-2; do
            spawn "perf-$p" "$d/perf-$p.log" perf record -g -F 999 -o "$d/perf-$p.data" -p "${PIDS[$p]}"
        done
        sleep 1
    fi
    local t0 t1 t2
    t0=$(now)
    "${ctl[@]}" -o json ingest "$work/rest.jsonl" --no-progress >"$d/ingest-rest.json"
    t1=$(now)
    wait "${PIDS[watch]}" || true
    t2=$(now)
    unset "PIDS[watch]"
    if [ -n "$prof" ]; then
        for p in coordinator worker-1 worker-2; do kill -INT "${PIDS[perf-$p]}" 2>/dev/null || true; done
        for p in coordinator worker-1 worker-2; do wait "${PIDS[perf-$p]}" 2>/dev/null || true; unset "PIDS[perf-$p]"; done
    fi
    [ "$(jf '.accepted | tonumber' "$d/ingest-rest.json")" = "$n_rest" ] || die "rest ingest: $(cat "$d/ingest-rest.json")"
    "${ctl[@]}" -o json status >"$d/status-end.json"
    $py "$here/score.py" "$work/rest.jsonl" "$d/watch.jsonl" >"$d/score.json"
    [ "$(jf .missing "$d/score.json")" = 0 ] || die "items without a model label: $(cat "$d/score.json")"
    for w in worker-1 worker-2; do stop "$w"; done
    stop coordinator
    local du_data; du_data=$(du -sm "$d/data" | cut -f1)
    [ $keep = 1 ] || [ -n "$prof" ] || rm -rf "$d/data"
    jq -c -n --argjson s "$(cat "$d/score.json")" --argjson m "$(jq '[.[] | select(.status == "current")][0]' "$d/models.json")" \
        --arg t0 "$t0" --arg t1 "$t1" --arg t2 "$t2" --arg tt "$t_train0" --arg tm "$t_model" \
        --argjson n "$n_rest" --arg du "$du_data" '
        (($t2|tonumber) - ($t0|tonumber)) as $sec |
        { side: "cluster", items: $n, seconds: ($sec * 10000 | round / 10000),
          items_per_s: ($n / $sec * 10 | round / 10), accuracy: $s.accuracy,
          ingest_s: ((($t1|tonumber) - ($t0|tonumber)) * 1000 | round / 1000),
          train_to_current_s: ((($tm|tonumber) - ($tt|tonumber)) * 1000 | round / 1000),
          model: { version: $m.version, valid_accuracy: $m.accuracy, ece: $m.ece,
                   n_train: $m.n_train, n_valid: $m.n_valid, train_ms: $m.train_ms },
          label_span_ms: ($s.last_ms - $s.first_ms), versions: $s.versions, data_mb: ($du|tonumber) }'
}

python_run() {  # python_run DIR: prints one JSON line
    local d=$1
    mkdir -p "$d"
    $py "$here/python_pipeline.py" "$work/train.jsonl" "$work/rest.jsonl" "$d/lmdb" >"$d/py.json"
    jq -c '{side: "python"} + .' "$d/py.json"
    rm -rf "$d/lmdb"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$work/results.jsonl"
for r in $(seq "$runs"); do
    say "run $r/$runs: cluster"
    cluster_run "$work/cluster-$r" >"$work/run.json"
    cat "$work/run.json" >&2; cat "$work/run.json" >>"$work/results.jsonl"
    say "run $r/$runs: python"
    python_run "$work/python-$r" >"$work/run.json"
    cat "$work/run.json" >&2; cat "$work/run.json" >>"$work/results.jsonl"
done

col() { jq -r "select(.side == \"$1\") | $2" "$work/results.jsonl" | median; }
cl=$(col cluster .items_per_s); pyr=$(col python .items_per_s)
echo "machine: $(nproc) vCPU $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB;" \
     "work dir file system: $(df -h --output=source,fstype "$work" | tail -1 | tr -s ' ')"
echo "split: $n_train training items (gold), $n_rest measured; $runs runs each, medians"
echo
echo "| side | items/s | seconds | accuracy vs meta.truth | runs (items/s) |"
echo "|---|---|---|---|---|"
echo "| cluster (ingest → durable model label, watched) | $cl | $(col cluster .seconds) | $(col cluster .accuracy) | $(jq -r 'select(.side == "cluster") | .items_per_s' "$work/results.jsonl" | paste -sd' ') |"
echo "| python (vectorise + predict_proba + LMDB txn a batch of 256) | $pyr | $(col python .seconds) | $(col python .accuracy) | $(jq -r 'select(.side == "python") | .items_per_s' "$work/results.jsonl" | paste -sd' ') |"
echo
echo "ratio cluster/python: $(awk -v a="$cl" -v b="$pyr" 'BEGIN {printf "%.2f", a/b}')"
echo "cluster: ingest call returned after $(col cluster .ingest_s) s (median); model v1: valid accuracy $(col cluster .model.valid_accuracy), trained on $(col cluster .model.n_train) + $(col cluster .model.n_valid) held out, $(col cluster .model.train_ms) ms"
echo "python stages (median s): vectorise $(col python .vectorise_s), predict_proba $(col python .predict_s), LMDB writes $(col python .write_s); fit $(col python .fit_s) s (not timed)"

if [ $perf = 1 ]; then
    say "profiling run: perf record -g on the coordinator and both workers"
    cluster_run "$work/perf" perf >"$work/perf.jsonl"
    cat "$work/perf.jsonl" >&2
    out=$root/bench/data/out/e2e-perf
    mkdir -p "$out"
    for p in coordinator worker-1 worker-2; do
        perf report -i "$work/perf/perf-$p.data" --no-children --sort comm,dso,symbol --stdio 2>/dev/null |
            head -150 >"$out/$p.txt" || true
        perf report -i "$work/perf/perf-$p.data" --no-children --sort comm --stdio 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -20 >"$out/$p-threads.txt" || true
    done
    cp "$work/perf.jsonl" "$out/run.json"
    say "perf reports in $out"
fi
