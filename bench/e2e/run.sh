#!/bin/bash
# End-to-end benchmark of the learning loop on the SpamAssassin corpus, beside
# a Python pipeline doing the same work, in the same run.
#
#   bench/e2e/run.sh [RUNS=3] [--stages] [--perf] [--keep]
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
# --stages: after the timed runs, RUNS more cluster runs split in two phases
#    (ingest with the workers stopped, then labelling of the full queue), with
#    wall time, CPU time per process and disk MiB written for each phase.
# --perf: after the timed runs, one more cluster run with `perf record -g`
#    attached to the coordinator and both workers during the measured phase
#    and annotatectl's ingest run under it;
#    the reports are written to bench/data/out/e2e-perf/ (git-ignored).
# --keep: keep the work dir (logs, watch output) and say where it is.
#
# Environment: BUILD (default build/, configured RelWithDebInfo),
# SPAM (default bench/data/out/spam.jsonl, made by bench/data/prepare.sh when
# missing), TRAIN_PERCENT (default 25).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/e2e
runs=3 perf=0 keep=0 stages=0
for a in "$@"; do
    case $a in
        --perf) perf=1 ;;
        --stages) stages=1 ;;
        --keep) keep=1 ;;
        ''|*[!0-9]*) echo "usage: $0 [RUNS] [--stages] [--perf] [--keep]" >&2; exit 2 ;;
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

# ---- the cluster -----------------------------------------------------------------
# cluster_start DIR: a coordinator and two workers on free ports, checked to be
# this run's; sets CTL (annotatectl with --addr) and CP (the cluster port).
cluster_start() {
    local d=$1 gp i
    mkdir -p "$d"
    free_port; gp=$PORT
    free_port; CP=$PORT
    CTL=("$build/annotatectl" --addr "127.0.0.1:$gp")
    spawn coordinator "$d/coordinator.log" "$build/annotate-coordinator" --manifest "$work/e2e.yaml" \
        --data-dir "$d/data" --grpc-listen "127.0.0.1:$gp" --cluster-bind "tcp://127.0.0.1:$CP" --log-level info
    for ((i = 0; i < 300; i++)); do
        kill -0 "${PIDS[coordinator]}" 2>/dev/null || { cat "$d/coordinator.log" >&2; die "coordinator exited"; }
        grep -q ready "$d/coordinator.log" && "${CTL[@]}" --timeout 2 health >/dev/null 2>&1 && break
        sleep 0.1
    done
    # the right coordinator: ours says cluster "spam" and has no items yet
    "${CTL[@]}" -o json status >"$d/status0.json"
    [ "$(jf .cluster "$d/status0.json")" = spam ] && [ "$(jf '.items | tonumber' "$d/status0.json")" = 0 ] ||
        die "the coordinator on 127.0.0.1:$gp is not this run's"
    workers_start "$d"
}

workers_start() {   # workers_start DIR: both workers, until the coordinator has them alive
    local d=$1 w
    for w in worker-1 worker-2; do
        spawn "$w" "$d/$w.log" "$build/annotate-worker" --coordinator "tcp://127.0.0.1:$CP" --name "$w" --log-level info
    done
    alive_workers 2 "$d"
}

alive_workers() {   # alive_workers N DIR: waits up to 20 s for exactly N alive workers
    local n=$1 d=$2 i
    for ((i = 0; i < 200; i++)); do
        "${CTL[@]}" -o json status >"$d/status.json" 2>/dev/null &&
            [ "$(jq '[.workers[]? | select(.state == "alive")] | length' "$d/status.json")" = "$n" ] && return 0
        sleep 0.1
    done
    die "not $n workers alive: $(cat "$d/status.json")"
}

# cluster_train DIR: the training part with gold labels, `annotatectl retrain`,
# until version 1 is current; sets T_TRAIN (seconds from ingest to current).
cluster_train() {
    local d=$1 i t
    t=$(now)
    "${CTL[@]}" -o json ingest "$work/train.jsonl" --no-progress >"$d/ingest-train.json"
    [ "$(jf '.accepted | tonumber' "$d/ingest-train.json")" = "$n_train" ] || die "training ingest: $(cat "$d/ingest-train.json")"
    "${CTL[@]}" retrain --reason e2e-bench >"$d/retrain.txt"
    for ((i = 0; i < 1200; i++)); do
        "${CTL[@]}" -o json models >"$d/models.json" 2>/dev/null &&
            [ "$(jq '[.[] | select(.status == "current")] | length' "$d/models.json")" = 1 ] && break
        sleep 0.1
    done
    [ "$(jq '[.[] | select(.status == "current")] | length' "$d/models.json")" = 1 ] || die "no current model within 120 s"
    T_TRAIN=$(awk -v a="$t" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
    # model chunks go out on the same ordered socket and actor pipe as later
    # batches, so no wait is needed for correctness; one second lets the
    # workers load it before any clock starts
    sleep 1
}

cluster_stop() {
    stop worker-1; stop worker-2; stop coordinator
}

watch_start() {     # watch_start DIR: model label events of the rest, into DIR/watch.jsonl
    setpriv --pdeathsig KILL -- "${CTL[@]}" -o json watch --from-now --source model \
        --count "$n_rest" --idle-timeout 120 >"$1/watch.jsonl" 2>"$1/watch.err" </dev/null &
    PIDS[watch]=$!
    sleep 0.5       # subscribed before anything is sent
}

watch_wait() {      # watch_wait DIR: until the watch has all events; scores them
    wait "${PIDS[watch]}" || true
    unset "PIDS[watch]"
    $py "$here/score.py" "$work/rest.jsonl" "$1/watch.jsonl" >"$1/score.json"
    [ "$(jf .missing "$1/score.json")" = 0 ] || die "items without a model label: $(cat "$1/score.json")"
}

cpu_of() {          # cpu_of NAME: CPU seconds (user + system) of a running process
    awk -v t="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / t}' "/proc/${PIDS[$1]}/stat"
}

disk_dev=$(basename "$(df --output=source "$work" | tail -1)")
disk_mib() {        # MiB written to the work dir's block device so far (all processes)
    if [ -r "/sys/class/block/$disk_dev/stat" ]; then
        awk '{printf "%.1f", $7 * 512 / 1048576}' "/sys/class/block/$disk_dev/stat"
    else
        echo 0
    fi
}

# cluster_run DIR [perf]: one timed run; prints one JSON line with its figures.
cluster_run() {
    local d=$1 prof=${2:-} p
    cluster_start "$d"
    cluster_train "$d"
    watch_start "$d"
    if [ -n "$prof" ]; then
        for p in coordinator worker-1 worker-2; do
            spawn "perf-$p" "$d/perf-$p.log" perf record -g -F 999 -o "$d/perf-$p.data" -p "${PIDS[$p]}"
        done
        sleep 1
    fi
    local t0 t1 t2
    t0=$(now)
    if [ -n "$prof" ]; then
        perf record -g -F 999 -o "$d/perf-annotatectl.data" -- \
            "${CTL[@]}" -o json ingest "$work/rest.jsonl" --no-progress >"$d/ingest-rest.json" 2>"$d/perf-annotatectl.log"
    else
        "${CTL[@]}" -o json ingest "$work/rest.jsonl" --no-progress >"$d/ingest-rest.json"
    fi
    t1=$(now)
    watch_wait "$d"
    t2=$(now)
    if [ -n "$prof" ]; then
        for p in coordinator worker-1 worker-2; do kill -INT "${PIDS[perf-$p]}" 2>/dev/null || true; done
        for p in coordinator worker-1 worker-2; do wait "${PIDS[perf-$p]}" 2>/dev/null || true; unset "PIDS[perf-$p]"; done
    fi
    [ "$(jf '.accepted | tonumber' "$d/ingest-rest.json")" = "$n_rest" ] || die "rest ingest: $(cat "$d/ingest-rest.json")"
    "${CTL[@]}" -o json status >"$d/status-end.json"
    cluster_stop
    local du_data; du_data=$(du -sm "$d/data" | cut -f1)
    [ $keep = 1 ] || rm -rf "$d/data"
    jq -c -n --argjson s "$(cat "$d/score.json")" --argjson m "$(jq '[.[] | select(.status == "current")][0]' "$d/models.json")" \
        --arg t0 "$t0" --arg t1 "$t1" --arg t2 "$t2" --arg tt "$T_TRAIN" \
        --argjson n "$n_rest" --arg du "$du_data" '
        (($t2|tonumber) - ($t0|tonumber)) as $sec |
        { side: "cluster", items: $n, seconds: ($sec * 10000 | round / 10000),
          items_per_s: ($n / $sec * 10 | round / 10), accuracy: $s.accuracy,
          ingest_s: ((($t1|tonumber) - ($t0|tonumber)) * 1000 | round / 1000),
          train_to_current_s: ($tt|tonumber),
          model: { version: $m.version, valid_accuracy: $m.accuracy, ece: $m.ece,
                   n_train: $m.n_train, n_valid: $m.n_valid, train_ms: $m.train_ms },
          label_span_ms: ($s.last_ms - $s.first_ms), versions: $s.versions, data_mb: ($du|tonumber) }'
}

# stages_run DIR: the same work in two phases, to see where the time goes.
# Phase 1, ingest only: the workers are stopped, the rest is ingested and
# waits in the pending queue. Phase 2, labelling only: the workers start
# again (they get the model when they register) and label the queue. For
# each phase: wall time, CPU seconds of annotatectl, the coordinator and the
# workers, and MiB written to the disk. Prints one JSON line.
stages_run() {
    local d=$1
    cluster_start "$d"
    cluster_train "$d"
    stop worker-1; stop worker-2
    alive_workers 0 "$d"
    local c0 c1 c2 m0 m1 m2 t0 t1 t2 ctl_cpu
    c0=$(cpu_of coordinator); m0=$(disk_mib); t0=$(now)
    local TIMEFORMAT='%U %S'
    { time "${CTL[@]}" -o json ingest "$work/rest.jsonl" --no-progress >"$d/ingest-rest.json" 2>"$d/ingest-rest.err"; } 2>"$d/ctl-time.txt"
    t1=$(now)
    c1=$(cpu_of coordinator); m1=$(disk_mib)
    ctl_cpu=$(awk '{printf "%.3f", $1 + $2}' "$d/ctl-time.txt")
    [ "$(jf '.accepted | tonumber' "$d/ingest-rest.json")" = "$n_rest" ] || die "rest ingest: $(cat "$d/ingest-rest.json")"
    watch_start "$d"
    local t_w; t_w=$(now)
    workers_start "$d"
    wait "${PIDS[watch]}" || true
    t2=$(now)
    unset "PIDS[watch]"
    local w1 w2
    c2=$(cpu_of coordinator); w1=$(cpu_of worker-1); w2=$(cpu_of worker-2); m2=$(disk_mib)
    $py "$here/score.py" "$work/rest.jsonl" "$d/watch.jsonl" >"$d/score.json"
    [ "$(jf .missing "$d/score.json")" = 0 ] || die "items without a model label: $(cat "$d/score.json")"
    cluster_stop
    [ $keep = 1 ] || rm -rf "$d/data"
    jq -c -n --argjson s "$(cat "$d/score.json")" --argjson n "$n_rest" \
        --arg t0 "$t0" --arg t1 "$t1" --arg tw "$t_w" --arg t2 "$t2" \
        --arg c0 "$c0" --arg c1 "$c1" --arg c2 "$c2" --arg w1 "$w1" --arg w2 "$w2" \
        --arg m0 "$m0" --arg m1 "$m1" --arg m2 "$m2" --arg ctl "$ctl_cpu" '
        def r3: . * 1000 | round / 1000;
        def us: . / $n * 1e6 | round;
        (($t1|tonumber) - ($t0|tonumber)) as $ing |
        (($s.last_ms - $s.first_ms) / 1000) as $lab |
        { side: "stages", items: $n,
          ingest: { seconds: ($ing|r3), items_per_s: ($n / $ing | round),
                    annotatectl_cpu_us_per_item: ($ctl|tonumber|us),
                    coordinator_cpu_us_per_item: ((($c1|tonumber) - ($c0|tonumber))|us),
                    disk_mib: ((($m1|tonumber) - ($m0|tonumber))|r3) },
          labelling: { seconds_from_worker_start: ((($t2|tonumber) - ($tw|tonumber))|r3),
                       seconds_first_to_last_label: ($lab|r3), items_per_s: ($n / $lab | round),
                       coordinator_cpu_us_per_item: ((($c2|tonumber) - ($c1|tonumber))|us),
                       workers_cpu_us_per_item: ((($w1|tonumber) + ($w2|tonumber))|us),
                       disk_mib: ((($m2|tonumber) - ($m1|tonumber))|r3) },
          accuracy: $s.accuracy }'
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

if [ $stages = 1 ]; then
    say "stages: ingest only, then labelling only, $runs runs"
    : >"$work/stages.jsonl"
    for r in $(seq "$runs"); do
        stages_run "$work/stages-$r" >"$work/run.json"
        cat "$work/run.json" >&2; cat "$work/run.json" >>"$work/stages.jsonl"
    done
    sm() { jq -r "$1" "$work/stages.jsonl" | median; }
    echo
    echo "stages (medians of $runs; CPU in microseconds per item; disk MiB written by the whole machine):"
    echo "| phase | seconds | items/s | annotatectl CPU | coordinator CPU | workers CPU | disk MiB |"
    echo "|---|---|---|---|---|---|---|"
    echo "| ingest only (workers stopped) | $(sm .ingest.seconds) | $(sm .ingest.items_per_s) | $(sm .ingest.annotatectl_cpu_us_per_item) | $(sm .ingest.coordinator_cpu_us_per_item) | - | $(sm .ingest.disk_mib) |"
    echo "| labelling only (queue full, first to last label) | $(sm .labelling.seconds_first_to_last_label) | $(sm .labelling.items_per_s) | - | $(sm .labelling.coordinator_cpu_us_per_item) | $(sm .labelling.workers_cpu_us_per_item) | $(sm .labelling.disk_mib) |"
fi

if [ $perf = 1 ]; then
    say "profiling run: perf record -g on the coordinator and both workers"
    cluster_run "$work/perf" perf >"$work/perf.jsonl"
    cat "$work/perf.jsonl" >&2
    out=$root/bench/data/out/e2e-perf
    mkdir -p "$out"
    rm -f "$out"/*-threads.txt
    for p in annotatectl coordinator worker-1 worker-2; do
        { perf report -i "$work/perf/perf-$p.data" --no-children -g none --sort dso --stdio 2>/dev/null |
              grep -v '^#' | grep -v '^$' | head -12
          echo
          perf report -i "$work/perf/perf-$p.data" --no-children -g none --sort dso,symbol --stdio 2>/dev/null |
              grep -v '^#' | grep -v '^$' | head -40; } >"$out/$p.txt" || true
    done
    cp "$work/perf.jsonl" "$out/run.json"
    say "perf reports in $out"
fi
