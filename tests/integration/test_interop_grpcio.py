#!/usr/bin/python3
"""Interop: a third-party gRPC client (Python grpcio, stubs generated from our
.proto at test time) against a real coordinator and two real workers.

Streams 10,000 digits, follows every label event, resumes a watch from the
middle, reads items back (GetItem, ListItems paging), checks ClusterStatus
and Health, checks that bad requests fail with the right status code and a
message naming the field (including hand-made protobuf bytes no generated
client would send), then restarts the coordinator and checks that nothing
was lost.

Environment: ANNOTATE_BIN_DIR, ANNOTATE_SOURCE_DIR, ANNOTATE_SANITIZE (see
tests/CMakeLists.txt). Run directly with /usr/bin/python3.
"""
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import grpc
from grpc_tools import protoc

SRC = os.environ.get("ANNOTATE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ANNOTATE_BIN_DIR") or os.path.join(SRC, "build")
SLOW = 3 if os.environ.get("ANNOTATE_SANITIZE") == "1" else 1
N = 10000
BATCH = 500
WORKERS = ["worker-1", "worker-2"]
PORT_LOCKS = os.path.join(os.environ.get("TMPDIR", "/tmp"), "annotate-it-ports")
if SLOW > 1:  # the same sanitizer settings as lib.sh and tests/run.sh
    os.environ.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=0")
    os.environ.setdefault("LSAN_OPTIONS", f"suppressions={SRC}/tests/lsan.supp:print_suppressions=0")
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def say(msg):
    print(f"[{time.strftime('%H:%M:%S')} interop] {msg}", file=sys.stderr, flush=True)


# ---- processes ---------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no strays, even if we are killed


class Harness:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="annotate-it.interop.")
        self.procs = {}
        self.logs = []
        self.ports = []
        self.grpc_port = self.free_port()
        self.cluster_port = self.free_port()
        self.addr = f"127.0.0.1:{self.grpc_port}"
        self.data = os.path.join(self.dir, "data")

    def free_port(self):
        os.makedirs(PORT_LOCKS, exist_ok=True)
        for _ in range(200):
            p = random.randint(20000, 31999)
            try:
                os.mkdir(os.path.join(PORT_LOCKS, str(p)))
            except FileExistsError:
                continue
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            except OSError:
                os.rmdir(os.path.join(PORT_LOCKS, str(p)))
                continue
            self.ports.append(p)
            return p
        raise Fail("no free port")

    def spawn(self, name, argv):
        log = os.path.join(self.dir, f"{len(self.logs) + 1}.{name}.log")
        self.logs.append(log)
        f = open(log, "wb")
        f.write(("# " + " ".join(argv) + "\n").encode())
        f.flush()
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=_die_with_parent)
        f.close()
        self.procs[name] = (p, log)
        return p

    def start_coordinator(self):
        self.spawn("coordinator", [os.path.join(BIN, "annotate-coordinator"),
                                   "--data-dir", self.data, "--grpc-listen", self.addr,
                                   "--cluster-bind", f"tcp://127.0.0.1:{self.cluster_port}"])
        p, log = self.procs["coordinator"]
        deadline = time.time() + 30 * SLOW
        while time.time() < deadline:
            check(p.poll() is None, f"coordinator exited with {p.returncode} while starting")
            with open(log, "rb") as f:
                if b"ready" in f.read():
                    return
            time.sleep(0.1)
        raise Fail("coordinator did not log 'ready'")

    def start_worker(self, name):
        self.spawn(name, [os.path.join(BIN, "annotate-worker"), "--coordinator",
                          f"tcp://127.0.0.1:{self.cluster_port}", "--name", name])

    def stop(self, name, want=0):
        p, log = self.procs.pop(name)
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Fail(f"{name} did not exit within {30 * SLOW} s of SIGTERM")
        check(rc == want, f"{name} exited with {rc} after SIGTERM, want {want}")

    def cleanup(self, failed):
        for name, (p, _) in self.procs.items():
            if p.poll() is None:
                p.terminate()
        for name, (p, _) in self.procs.items():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if failed:
            for log in self.logs:
                print(f"======== {os.path.basename(log)} (last 60 lines) ========", file=sys.stderr)
                with open(log, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
                print("\n".join(lines[-60:]), file=sys.stderr)
        for p in self.ports:
            try:
                os.rmdir(os.path.join(PORT_LOCKS, str(p)))
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- stubs -------------------------------------------------------------------

def generate_stubs(out):
    """Stubs from proto/ into out, at test time. health.proto is compiled from
    its own folder: a generated top-level "grpc" package would shadow grpcio."""
    proto = os.path.join(SRC, "proto")
    inc = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    for args in (["-I" + proto, "annotate/v1/annotate.proto", "annotate/v1/cluster.proto"],
                 ["-I" + os.path.join(proto, "grpc", "health", "v1"), "health.proto"]):
        rc = protoc.main(["protoc", "-I" + inc] + args[:1] + ["--python_out=" + out,
                         "--grpc_python_out=" + out] + args[1:])
        check(rc == 0, f"grpc_tools.protoc failed on {args[1:]}")
    sys.path.insert(0, out)


# ---- helpers -----------------------------------------------------------------

def digits(limit):
    out = subprocess.run([sys.executable, os.path.join(SRC, "tests/data/digits_jsonl.py"),
                          "--repeat", "6", "--limit", str(limit)],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def expect_error(fn, code, *needles):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, f"got {e.code()} ({e.details()!r}), want {code}")
        for n in needles:
            check(n in (e.details() or ""), f"{code}: message {e.details()!r} does not name {n!r}")
        return e.details()
    raise Fail(f"call succeeded, want {code}")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(no, data):
    return varint(no << 3 | 2) + varint(len(data)) + data


class Test:
    def __init__(self, h, pb, pbg, hpb, hpbg):
        self.h, self.pb, self.pbg, self.hpb, self.hpbg = h, pb, pbg, hpb, hpbg
        self.connect()

    def connect(self):
        opts = [("grpc.max_receive_message_length", 64 << 20),
                ("grpc.max_send_message_length", 64 << 20)]
        self.channel = grpc.insecure_channel(self.h.addr, options=opts)
        self.stub = self.pbg.AnnotateStub(self.channel)
        self.health = self.hpbg.HealthStub(self.channel)

    def item(self, d):
        it = self.pb.Item(id=d["id"], vector=d["vector"], meta_json=json.dumps(d["meta"]))
        if d.get("label"):
            it.label = d["label"]
        return it

    def wait_healthy(self):
        deadline = time.time() + 30 * SLOW
        while True:
            try:
                r = self.health.Check(self.hpb.HealthCheckRequest(), timeout=2)
                if r.status == self.hpb.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            check(time.time() < deadline, "Health never SERVING")
            time.sleep(0.1)

    def status(self):
        return self.stub.ClusterStatus(self.pb.ClusterStatusRequest(), timeout=5)

    def wait_status(self, pred, what, secs):
        deadline = time.time() + secs * SLOW
        while True:
            try:
                st = self.status()
                if pred(st):
                    return st
            except grpc.RpcError:
                st = None
            if time.time() > deadline:
                raise Fail(f"timeout waiting for {what}; last status: {st}")
            time.sleep(0.2)

    def watch(self, after, want, secs, quiet=1.0):
        """Events after `after` until `want` arrived, then `quiet` more seconds
        to catch any extra; returns the list."""
        events = []
        call = self.stub.WatchLabels(self.pb.WatchLabelsRequest(after_seq=after),
                                     timeout=secs * SLOW)
        done = threading.Event()
        stop_at = [None]

        def watchdog():
            while not done.wait(0.05):
                if stop_at[0] and time.time() > stop_at[0]:
                    call.cancel()
                    return
        t = threading.Thread(target=watchdog, daemon=True)
        t.start()
        try:
            for resp in call:
                events.extend(resp.events)
                if len(events) >= want and not stop_at[0]:
                    stop_at[0] = time.time() + quiet
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise Fail(f"WatchLabels(after {after}): {len(events)} of {want} events "
                           f"within {secs * SLOW} s")
            check(e.code() == grpc.StatusCode.CANCELLED, f"WatchLabels failed: {e}")
        finally:
            done.set()
        return events

    # ---- the steps ----------------------------------------------------------

    def ingest_stream(self, data):
        say(f"IngestStream {len(data)} items in batches of {BATCH}")

        def reqs():
            for i in range(0, len(data), BATCH):
                yield self.pb.IngestRequest(items=[self.item(d) for d in data[i:i + BATCH]])
        r = self.stub.IngestStream(reqs(), timeout=120 * SLOW)
        check(r.accepted == len(data), f"IngestStream accepted {r.accepted}, want {len(data)}")
        check(r.unchanged == 0 and r.replaced == 0, f"IngestStream: {r}")

    def check_events(self, events, data):
        ids = [d["id"] for d in data]
        check(len(events) == len(ids), f"{len(events)} events, want {len(ids)}")
        seqs = [e.seq for e in events]
        check(seqs == list(range(1, len(ids) + 1)),
              f"seqs not 1..{len(ids)} in order: first {seqs[:5]}, last {seqs[-5:]}")
        got = sorted(e.item_id for e in events)
        check(got == sorted(ids), "events are not exactly one per item")
        for e in events:
            check(e.label.source == self.pb.SOURCE_NONE and e.label.label == "",
                  f"event {e.seq}: want SOURCE_NONE and no label: {e}")
            check(e.label.worker in WORKERS, f"event {e.seq}: worker {e.label.worker!r}")
            check(e.label.time_ms > 0, f"event {e.seq}: no time")

    def get_item(self, data, events):
        say("GetItem")
        d = data[1234]
        ev = [e for e in events if e.item_id == d["id"]]
        r = self.stub.GetItem(self.pb.GetItemRequest(id=d["id"]), timeout=5)
        check(r.item.id == d["id"], f"GetItem id {r.item.id!r}")
        check(list(r.item.vector) == d["vector"], "GetItem: vector differs from the one ingested")
        check(json.loads(r.item.meta_json) == d["meta"], f"GetItem: meta {r.item.meta_json!r}")
        check(len(r.item.content_hash) == 16, f"content_hash: {len(r.item.content_hash)} bytes")
        check(r.item.ingested_at_ms > 0, "ingested_at_ms not set")
        check(r.status == self.pb.STATUS_LABELLED, f"status {r.status}")
        check(len(r.history) == 1 and r.history[0] == ev[0], f"history {list(r.history)} != {ev}")
        check(r.label == ev[0].label, "current label is not the event's")
        r2 = self.stub.GetItem(self.pb.GetItemRequest(id=d["id"], no_history=True), timeout=5)
        check(len(r2.history) == 0 and r2.item == r.item, "GetItem no_history")
        return r

    def list_items(self, want_ids, page_size=1000):
        ids, token, pages = [], "", 0
        while True:
            r = self.stub.ListItems(self.pb.ListItemsRequest(page_size=page_size, page_token=token),
                                    timeout=10)
            check(len(r.items) <= page_size, f"page of {len(r.items)} > {page_size}")
            ids.extend(s.id for s in r.items)
            pages += 1
            check(pages < 1000, "ListItems does not end")
            if not r.next_page_token:
                break
            token = r.next_page_token
        check(len(ids) == len(set(ids)), "ListItems: an id listed twice")
        check(sorted(ids) == sorted(want_ids), f"ListItems: {len(ids)} ids, want {len(want_ids)}")
        return pages

    def cluster_status(self, n):
        say("ClusterStatus")
        st = self.status()
        alive = sorted(w.name for w in st.workers if w.state == "alive")
        check(alive == WORKERS, f"alive workers {alive}")
        # --repeat 6 writes exact duplicates: annotation actors see each
        # distinct item once (items.dedup), the copies share its label
        distinct = min(n, 1797)
        check(sum(w.items_done for w in st.workers) == distinct,
              f"items_done {[w.items_done for w in st.workers]}, want {distinct} in all")
        check((st.items, st.labelled, st.pending, st.in_flight, st.last_seq) == (n, n, 0, 0, n),
              f"counts: items {st.items} labelled {st.labelled} pending {st.pending} "
              f"in_flight {st.in_flight} last_seq {st.last_seq}")
        check(st.vector_dim == 64, f"vector_dim {st.vector_dim}")
        check(list(st.labels) == [str(i) for i in range(10)], f"labels {list(st.labels)}")
        check(st.uptime_ms > 0 and st.manifest_version >= 1, f"uptime/manifest_version: {st}")

    def unary_ingest(self, n_before):
        say("unary Ingest")
        vec = [float(i % 17) for i in range(64)]
        items = [self.pb.Item(id="unary-1", text="héllo wörld", vector=vec),
                 self.pb.Item(id="unary-2", vector=vec, meta_json='{"k": [1, 2]}'),
                 self.pb.Item(id="unary-gold", vector=vec, label="3")]
        r = self.stub.Ingest(self.pb.IngestRequest(items=items), timeout=10)
        check(r.accepted == 3 and r.unchanged == 0, f"Ingest: {r}")
        r = self.stub.Ingest(self.pb.IngestRequest(items=items[:1]), timeout=10)
        check(r.accepted == 0 and r.unchanged == 1, f"identical re-Ingest: {r}")
        evs = self.watch(n_before, 3, 60)
        check(len(evs) == 3, f"{len(evs)} events after the unary Ingest, want 3")
        by_id = {e.item_id: e for e in evs}
        check(sorted(by_id) == ["unary-1", "unary-2", "unary-gold"], f"event ids {sorted(by_id)}")
        g = by_id["unary-gold"].label
        check(g.source == self.pb.SOURCE_GOLD and g.label == "3", f"gold event: {g}")
        check(by_id["unary-1"].label.source == self.pb.SOURCE_NONE, "unary-1 event source")
        r = self.stub.GetItem(self.pb.GetItemRequest(id="unary-1"), timeout=5)
        check(r.item.text == "héllo wörld", f"text {r.item.text!r}")
        r = self.stub.GetItem(self.pb.GetItemRequest(id="unary-gold"), timeout=5)
        check(r.label.source == self.pb.SOURCE_GOLD and r.label.label == "3", f"gold label {r.label}")
        check(r.status == self.pb.STATUS_ACCEPTED, f"gold item status {r.status}, want ACCEPTED")
        return n_before + 3

    def errors(self):
        say("errors")
        pb, stub = self.pb, self.stub
        INV = grpc.StatusCode.INVALID_ARGUMENT
        vec = [1.0] * 64

        def ingest(*items, replace=False):
            return stub.Ingest(pb.IngestRequest(items=list(items), replace=replace), timeout=10)

        expect_error(lambda: ingest(pb.Item(id="bad-dim", vector=[1.0] * 63)), INV, "items[0].vector")
        expect_error(lambda: ingest(pb.Item(id="ok-1", vector=vec), pb.Item(id="bad-dim", vector=[1.0] * 65)),
                     INV, "items[1].vector")
        expect_error(lambda: stub.GetItem(pb.GetItemRequest(id="ok-1"), timeout=5),
                     grpc.StatusCode.NOT_FOUND)   # a rejected request stores nothing of it
        expect_error(lambda: ingest(pb.Item(vector=vec)), INV, "items[0].id")
        expect_error(lambda: ingest(pb.Item(id="bad-gold", vector=vec, label="ten")), INV, "items[0].label")
        expect_error(lambda: ingest(pb.Item(id="bad-meta", vector=vec, meta_json="[1,2]")), INV,
                     "items[0].meta")
        expect_error(lambda: ingest(pb.Item(id="bad-nan", vector=[float("nan")] + vec[1:])), INV,
                     "items[0].vector")
        expect_error(lambda: stub.ListItems(pb.ListItemsRequest(page_size=1001), timeout=5), INV,
                     "page_size")

        raw = self.channel.unary_unary("/annotate.v1.Annotate/Ingest",
                                       request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
        # invalid UTF-8 in text: IngestRequest{items: [Item{id: "bad-utf8", text: ff fe}]}
        item = field_bytes(1, b"bad-utf8") + field_bytes(2, b"ab\xff\xfecd")
        expect_error(lambda: raw(field_bytes(1, item), timeout=10), INV, "items[0].text")
        # invalid UTF-8 in id
        expect_error(lambda: raw(field_bytes(1, field_bytes(1, b"\xc0\xafx")), timeout=10), INV, "items[0].id")
        # malformed protobuf: a length running past the end, a bad wire type
        expect_error(lambda: raw(b"\x0a\xff\xff\xff\x0f\x01", timeout=10), INV)
        expect_error(lambda: raw(b"\x0f\x00\x00", timeout=10), INV)
        # over the 16 MiB message limit
        big = field_bytes(1, field_bytes(1, b"big") + field_bytes(2, b"x" * (17 << 20)))
        expect_error(lambda: raw(big, timeout=30), grpc.StatusCode.RESOURCE_EXHAUSTED)
        # unknown methods
        for m in ("/annotate.v1.Annotate/DeleteEverything", "/no.such.Service/Call"):
            expect_error(lambda: self.channel.unary_unary(m, request_serializer=lambda b: b,
                                                          response_deserializer=lambda b: b)(b"", timeout=5),
                         grpc.StatusCode.UNIMPLEMENTED)
        expect_error(lambda: stub.GetItem(pb.GetItemRequest(id="no-such-item"), timeout=5),
                     grpc.StatusCode.NOT_FOUND, "no-such-item")
        expect_error(lambda: stub.GetItem(pb.GetItemRequest(id=""), timeout=5), INV, "id")
        # same id, other content
        expect_error(lambda: ingest(pb.Item(id="unary-2", vector=[2.0] * 64)),
                     grpc.StatusCode.ALREADY_EXISTS, "unary-2")
        r = ingest(pb.Item(id="unary-2", vector=[2.0] * 64), replace=True)
        check(r.replaced == 1 and r.accepted == 0, f"replace: {r}")
        # a stream whose second message is bad: the first is stored, the error names the field
        def bad_stream():
            yield pb.IngestRequest(items=[pb.Item(id="stream-ok", vector=vec)])
            yield pb.IngestRequest(items=[pb.Item(id="stream-bad", vector=[1.0])])
        expect_error(lambda: stub.IngestStream(bad_stream(), timeout=10), INV, "items[0].vector")
        # the server is still fine after all that
        self.health.Check(self.hpb.HealthCheckRequest(), timeout=5)

    def snapshot(self):
        st = self.status()
        events = self.watch(0, st.last_seq, 60, quiet=0.5)
        ids = []
        token = ""
        while True:
            r = self.stub.ListItems(self.pb.ListItemsRequest(page_size=1000, page_token=token), timeout=10)
            ids.extend((s.id, s.status, s.label.SerializeToString()) for s in r.items)
            if not r.next_page_token:
                break
            token = r.next_page_token
        return st.items, st.labelled, st.last_seq, [e.SerializeToString() for e in events], ids


def main():
    h = Harness()
    failed = True
    try:
        for b in ("annotate-coordinator", "annotate-worker"):
            check(os.access(os.path.join(BIN, b), os.X_OK), f"{BIN}/{b} is not built")
        stubs = os.path.join(h.dir, "stubs")
        os.makedirs(stubs)
        generate_stubs(stubs)
        from annotate.v1 import annotate_pb2 as pb, annotate_pb2_grpc as pbg
        import health_pb2 as hpb
        import health_pb2_grpc as hpbg

        h.start_coordinator()
        for w in WORKERS:
            h.start_worker(w)
        t = Test(h, pb, pbg, hpb, hpbg)
        t.wait_healthy()
        r = t.health.Check(hpb.HealthCheckRequest(service="annotate.v1.Annotate"), timeout=5)
        check(r.status == hpb.HealthCheckResponse.SERVING, "Health(annotate.v1.Annotate)")
        expect_error(lambda: t.health.Check(hpb.HealthCheckRequest(service="nope"), timeout=5),
                     grpc.StatusCode.NOT_FOUND)
        t.wait_status(lambda s: sum(w.state == "alive" for w in s.workers) == 2, "2 workers alive", 20)

        data = digits(N)
        t.ingest_stream(data)
        say("WatchLabels from 0")
        events = t.watch(0, N, 120)
        t.check_events(events, data)
        mid = events[N // 2 - 1].seq
        say(f"WatchLabels resuming after {mid}")
        rest = t.watch(mid, N - N // 2, 30)
        check([e.SerializeToString() for e in rest] == [e.SerializeToString() for e in events[N // 2:]],
              f"resumed watch: {len(rest)} events, not the last {N - N // 2} of the first watch")
        src = t.watch(0, 0, 5, quiet=1.0)
        check(len(src) == N, "watch from 0 again")
        r = t.stub.WatchLabels(pb.WatchLabelsRequest(after_seq=0, source=pb.SOURCE_GOLD), timeout=1.5)
        try:
            gold = [e for m in r for e in m.events]
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"watch source filter: {e}")
            gold = []
        check(gold == [], f"{len(gold)} gold events, want none")

        t.get_item(data, events)
        say("ListItems paging")
        pages = t.list_items([d["id"] for d in data], 1000)
        check(pages >= 10, f"{pages} pages of 1000 for {N} items")
        t.list_items([d["id"] for d in data], 777)
        r = t.stub.ListItems(pb.ListItemsRequest(), timeout=10)
        check(len(r.items) == 100 and r.next_page_token, f"default page: {len(r.items)} items")
        r = t.stub.ListItems(pb.ListItemsRequest(page_size=1000, status=pb.STATUS_PENDING), timeout=10)
        check(len(r.items) == 0, "pending items after everything was labelled")
        t.wait_status(lambda s: s.pending == 0 and s.in_flight == 0, "idle", 30)
        t.cluster_status(N)

        last = t.unary_ingest(N)
        t.errors()
        t.wait_status(lambda s: s.pending == 0 and s.in_flight == 0 and s.last_seq >= last + 2,
                      "idle after the error checks", 30)

        say("restart the coordinator")
        before = t.snapshot()
        t.channel.close()
        h.stop("coordinator")
        h.start_coordinator()
        t.connect()
        t.wait_healthy()
        after = t.snapshot()
        check(before[:3] == after[:3], f"items/labelled/last_seq {before[:3]} -> {after[:3]}")
        check(before[3] == after[3], "the event log changed across the restart")
        check(before[4] == after[4], "ListItems changed across the restart")
        t.get_item(data, events)
        t.wait_status(lambda s: sum(w.state == "alive" for w in s.workers) == 2,
                      "2 workers alive after the restart", 20)
        # and the cluster still labels new items
        vec = [0.5] * 64
        t.stub.Ingest(pb.IngestRequest(items=[pb.Item(id="after-restart", vector=vec)]), timeout=10)
        evs = t.watch(after[2], 1, 30)
        check([e.item_id for e in evs] == ["after-restart"], f"events after the restart: {evs}")
        t.channel.close()
        h.stop("coordinator")
        for w in WORKERS:
            h.stop(w)
        failed = False
        say("ok")
    except Fail as e:
        print(f"\nFAIL (interop): {e}", file=sys.stderr)
    except Exception:
        traceback.print_exc()
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
