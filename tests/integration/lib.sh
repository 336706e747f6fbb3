# lib.sh: what every integration test shares. Source it first:
#
#     . "$(dirname "$0")/lib.sh"
#
# It gives the test a temp dir ($T, removed on exit), two free loopback
# ports ($GRPC_PORT, $CLUSTER_PORT), and helpers that start the real
# binaries in the background with their logs in $T/logs. Every process
# started here is killed on exit, whatever the exit: an EXIT trap kills what
# is still running, and each child also runs under `setpriv --pdeathsig
# KILL`, so even a test killed with SIGKILL (ctest timeout) leaves nothing
# behind. When the test fails, the logs are printed.
#
# Environment (set by tests/CMakeLists.txt):
#   ANNOTATE_BIN_DIR     build dir holding the three binaries
#   ANNOTATE_SOURCE_DIR  repo root
#   ANNOTATE_SANITIZE    1 in an ASan/UBSan build (valgrind is skipped then)
#   ANNOTATE_VALGRIND    1: run the coordinator under valgrind; errors fail

# shellcheck disable=SC2034,SC2054,SC2119  # STOP_RC/EXIT_RC are read by tests
set -uo pipefail

SRC=${ANNOTATE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${ANNOTATE_BIN_DIR:-$SRC/build}
SANITIZE=${ANNOTATE_SANITIZE:-0}
VALGRIND=${ANNOTATE_VALGRIND:-0}
PY=/usr/bin/python3
TEST_NAME=$(basename "$0" .sh)

# Sanitizer builds are slower, valgrind much slower: scale every timeout.
SLOW=1
[ "$SANITIZE" = 1 ] && SLOW=3
[ "$VALGRIND" = 1 ] && [ "$SANITIZE" != 1 ] && SLOW=10
if [ "$SANITIZE" = 1 ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=0}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SRC/tests/lsan.supp:print_suppressions=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/annotate-it.$TEST_NAME.XXXXXX")
mkdir -p "$T/logs"
PORT_LOCKS=${TMPDIR:-/tmp}/annotate-it-ports
declare -A PIDS=()      # name -> pid of a process still to be stopped
declare -A LOGS=()      # name -> its current log file
declare -a MY_PORTS=()
LOG_SEQ=0

# ---- messages and checks ---------------------------------------------------

say() { printf '[%s %s] %s\n' "$(date +%T)" "$TEST_NAME" "$*" >&2; }
fail() {
    printf '\nFAIL (%s): %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}
skip() {
    printf 'SKIP (%s): %s\n' "$TEST_NAME" "$*"
    exit 0
}

# expect_rc WANT CMD...: runs CMD with stdout in $T/out and stderr in $T/err;
# fails unless it exits with WANT.
expect_rc() {
    local want=$1 rc=0
    shift
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "--- stdout:" >&2; head -c 4000 "$T/out" >&2
        echo "--- stderr:" >&2; head -c 4000 "$T/err" >&2
        fail "expected exit $want, got $rc: $*"
    fi
}

# expect_in FILE REGEX WHAT: FILE must match the extended regex.
expect_in() {
    grep -Eq -- "$2" "$1" || {
        echo "--- $1:" >&2; head -c 4000 "$1" >&2
        fail "$3: no match for /$2/ in $(basename "$1")"
    }
}

# eq GOT WANT WHAT
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# ---- ports -----------------------------------------------------------------

# A port below the kernel's ephemeral range (so outgoing connections never
# take it), free for TCP on 127.0.0.1 now, and reserved in $PORT_LOCKS so
# tests running in parallel never pick the same one.
free_port() {
    mkdir -p "$PORT_LOCKS"
    # reservations left by tests that were killed outright expire
    find "$PORT_LOCKS" -mindepth 1 -maxdepth 1 -type d -mmin +60 -exec rmdir {} + 2>/dev/null
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        mkdir "$PORT_LOCKS/$p" 2>/dev/null || continue
        if $PY - "$p" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
EOF
        then
            echo "$p"
            return 0
        fi
        rmdir "$PORT_LOCKS/$p"
    done
    fail "no free port found"
}
# Not `GRPC_PORT=$(free_port)`: the reservation must be recorded in this shell.
alloc_port() {
    local var=$1 p
    p=$(free_port) || exit 1
    MY_PORTS+=("$p")
    printf -v "$var" '%s' "$p"
}

# ---- processes -------------------------------------------------------------

# spawn NAME CMD...: starts CMD in the background, stderr+stdout in a new
# log file, and tracks it as NAME.
spawn() {
    local name=$1
    shift
    LOG_SEQ=$((LOG_SEQ + 1))
    local log="$T/logs/$LOG_SEQ.$name.log"
    echo "# $*" >"$log"
    setpriv --pdeathsig KILL -- "$@" >>"$log" 2>&1 </dev/null &
    PIDS[$name]=$!
    LOGS[$name]=$log
}

alive() { [ -n "${PIDS[$1]:-}" ] && kill -0 "${PIDS[$1]}" 2>/dev/null; }

# stop NAME [WANT_RC] [SIGNAL]: signals the process (default TERM), waits up
# to 30 s (scaled) for it, and checks its exit status (default 0).
stop() {
    local name=$1 want=${2:-0} sig=${3:-TERM} pid=${PIDS[$1]:-} rc=0 i
    [ -n "$pid" ] || fail "stop: $name is not running"
    kill -"$sig" "$pid" 2>/dev/null
    for ((i = 0; i < 300 * SLOW; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        unset "PIDS[$name]"
        fail "$name did not exit within $((30 * SLOW)) s of SIG$sig"
    fi
    wait "$pid" 2>/dev/null || rc=$?
    unset "PIDS[$name]"
    if [ "$want" != any ] && [ "$rc" != "$want" ]; then
        tail -n 40 "${LOGS[$name]}" >&2
        fail "$name exited with $rc after SIG$sig, want $want"
    fi
    STOP_RC=$rc
}

# kill9 NAME: SIGKILL, no questions.
kill9() {
    local pid=${PIDS[$1]:-}
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "PIDS[$1]"
}

# wait_exit NAME SECONDS: waits for NAME to exit by itself; sets EXIT_RC.
wait_exit() {
    local name=$1 pid=${PIDS[$1]:-} i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && return 1
    EXIT_RC=0
    wait "$pid" 2>/dev/null || EXIT_RC=$?
    unset "PIDS[$name]"
    return 0
}

print_logs() {
    local f
    for f in "$T"/logs/*.log; do
        [ -e "$f" ] || continue
        echo "======== $(basename "$f") (last 60 lines) ========" >&2
        tail -n 60 "$f" >&2
    done
}

cleanup() {
    local rc=$? name pid i
    trap - EXIT INT TERM
    for name in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$name]}" 2>/dev/null
    done
    for ((i = 0; i < 50; i++)); do
        local any=0
        for name in "${!PIDS[@]}"; do
            kill -0 "${PIDS[$name]}" 2>/dev/null && any=1
        done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for name in "${!PIDS[@]}"; do
        pid=${PIDS[$name]}
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # the children of background jobs that are not tracked (ingest clients)
    jobs -p | xargs -r kill -KILL 2>/dev/null
    wait 2>/dev/null
    if [ $rc != 0 ]; then
        print_logs
    fi
    for p in "${MY_PORTS[@]}"; do rmdir "$PORT_LOCKS/$p" 2>/dev/null; done
    [ -n "${KEEP_TEST_DIR:-}" ] && [ $rc != 0 ] && echo "kept $T" >&2 || rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the binaries ----------------------------------------------------------

need_binaries() {
    local b
    for b in annotate-coordinator annotate-worker annotatectl; do
        [ -x "$BIN/$b" ] || fail "$BIN/$b is not built"
    done
}

alloc_port GRPC_PORT
alloc_port CLUSTER_PORT
ADDR=127.0.0.1:$GRPC_PORT
ENDPOINT=tcp://127.0.0.1:$CLUSTER_PORT
DATA=$T/data

# ctl ARGS...: annotatectl against this test's coordinator.
ctl() { "$BIN/annotatectl" --addr "$ADDR" "$@"; }

use_valgrind() { [ "$VALGRIND" = 1 ] && [ "$SANITIZE" != 1 ]; }

# start_coordinator [NAME] [ARGS...]: starts a coordinator on this test's
# ports and data dir (ARGS come last, so they override) and waits until it
# is healthy. NAME defaults to "coordinator".
start_coordinator() {
    local name=coordinator
    if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then name=$1; shift; fi
    local cmd=("$BIN/annotate-coordinator" --data-dir "$DATA" --grpc-listen "$ADDR"
               --cluster-bind "$ENDPOINT" --log-level info "$@")
    if use_valgrind; then
        cmd=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
             --error-exitcode=99 --num-callers=30 --log-file="$T/logs/valgrind.$LOG_SEQ.%p.txt" "${cmd[@]}")
    fi
    spawn "$name" "${cmd[@]}"
    wait_ready "$name" $((30 * SLOW))
}

# wait_ready NAME SECONDS: the log says "ready" and `annotatectl health` is 0.
wait_ready() {
    local name=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        alive "$name" || { tail -n 30 "${LOGS[$name]}" >&2; fail "$name exited while starting"; }
        if grep -q ready "${LOGS[$name]}" && ctl --timeout 2 health >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    fail "$name not healthy within $2 s"
}

# stop_coordinator [NAME]: SIGTERM, exit 0; under valgrind, its report must be clean.
stop_coordinator() {
    local name=${1:-coordinator}
    stop "$name" any
    if use_valgrind && [ "$STOP_RC" = 99 ]; then
        cat "$T"/logs/valgrind.*.txt >&2
        fail "valgrind reported errors in the coordinator"
    fi
    [ "$STOP_RC" = 0 ] || { tail -n 40 "${LOGS[$name]}" >&2; fail "$name exited with $STOP_RC after SIGTERM, want 0"; }
}

# start_worker NAME [ARGS...]
start_worker() {
    local name=$1
    shift
    spawn "$name" "$BIN/annotate-worker" --coordinator "$ENDPOINT" --name "$name" "$@"
}

# ---- cluster state ---------------------------------------------------------

# status_json: `annotatectl status -o json` into $T/status.json.
status_json() { ctl --timeout 5 status -o json >"$T/status.json" 2>"$T/status.err"; }

# sfield JQ: one value from the last status_json (numbers as plain integers).
sfield() { jq -r "$1" "$T/status.json"; }

# wait_workers N [SECONDS]: until N workers are "alive".
wait_workers() {
    local n=$1 secs=${2:-$((20 * SLOW))} i got=
    for ((i = 0; i < secs * 5; i++)); do
        if status_json; then
            got=$(sfield '[.workers[]? | select(.state == "alive")] | length')
            [ "$got" -ge "$n" ] 2>/dev/null && return 0
        fi
        sleep 0.2
    done
    cat "$T/status.json" "$T/status.err" >&2
    fail "$n workers alive not reached within $secs s (last: ${got:-no status})"
}

# wait_idle [SECONDS] [MIN_LAST_SEQ]: until pending == 0 and in_flight == 0
# (and last_seq >= MIN_LAST_SEQ), as annotatectl status reports them.
wait_idle() {
    local secs=${1:-$((60 * SLOW))} min=${2:-0} i p f s
    for ((i = 0; i < secs * 5; i++)); do
        if status_json; then
            p=$(sfield '.pending // 0 | tonumber')
            f=$(sfield '.in_flight // 0 | tonumber')
            s=$(sfield '.last_seq // 0 | tonumber')
            [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" -ge "$min" ] && return 0
        fi
        sleep 0.2
    done
    cat "$T/status.json" "$T/status.err" >&2
    fail "not idle within $secs s (pending ${p:-?}, in_flight ${f:-?}, last_seq ${s:-?}, want >= $min)"
}

# digits ARGS...: the sklearn digits set as JSONL (see tests/data/digits_jsonl.py).
digits() { $PY "$SRC/tests/data/digits_jsonl.py" "$@"; }
