#!/usr/bin/python3
"""SIMULATED human reviewer for an annotate cluster: a script that plays the
part of a person labelling items, so the learning loop can be watched (and
measured) without one. It is NOT a labelling tool and no part of annotate:
it cheats by reading the true labels from the dataset file (meta.truth of
each JSONL line), which a real reviewer would have to decide by looking.

What it does, until --budget labels are spent:
  1. reads every item's current label through ListItems (all pages);
  2. picks the unreviewed item the machine is least sure of (uncertainty
     sampling done here, on the client: items whose label has source none
     count as the least confident of all; ties are broken at random);
  3. waits --delay seconds (a person's reading time, shortened);
  4. submits the true label with SubmitLabel, or with probability
     --error-rate a wrong one (people make mistakes; the loop must cope).
Every --report-every labels it prints one line: human labels spent, the
current model version, the accuracy of the machine labels against the
truth over every item not labelled by a person (items still at source none
count as wrong), and the coverage (share of those items with a machine
label). At the end it waits up to --settle seconds for the background
re-annotation to reach every item, reports once more and prints a table of
all the lines.

    deploy/simulated_reviewer.py --data digits.jsonl [--addr HOST:PORT]
        [--budget 300] [--delay 0.05] [--error-rate 0.02] [--report-every 25]

Needs /usr/bin/python3 with python3-grpcio and python3-grpc-tools (stubs
are generated from proto/ into a temporary directory at start). Exit 0 when
the budget was spent (or no unreviewed item was left), 1 on an RPC error,
2 on bad arguments or an unreadable dataset.
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PAGE_SIZE = 1000          # the server's largest ListItems page
REFRESH_S = 0.5           # how stale the client-side snapshot may get
MACHINE_FREE = None       # filled with {human, gold} source values after import


def generate_stubs(out):
    """annotate.proto -> out/annotate/v1/*_pb2*.py, importable from out."""
    from grpc_tools import protoc
    inc = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    proto = os.path.join(ROOT, "proto")
    rc = protoc.main(["protoc", "-I" + inc, "-I" + proto, "--python_out=" + out,
                      "--grpc_python_out=" + out, "annotate/v1/annotate.proto"])
    if rc != 0:
        sys.exit(f"simulated_reviewer: grpc_tools.protoc failed on {proto}/annotate/v1/annotate.proto")
    sys.path.insert(0, out)


def read_truth(path):
    """id -> true label, from each line's meta.truth."""
    truth = {}
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    t = (item.get("meta") or {}).get("truth")
                except (ValueError, AttributeError) as e:
                    sys.exit(f"simulated_reviewer: {path}:{n}: not a JSON object: {e}")
                if t is not None:
                    truth[str(item["id"])] = str(t)
    except OSError as e:
        sys.exit(f"simulated_reviewer: {path}: {e}")
    if not truth:
        sys.exit(f"simulated_reviewer: {path}: no line has meta.truth: nothing to simulate")
    return truth


class Reviewer:
    def __init__(self, a, pb, pbg, channel):
        self.a = a
        self.pb = pb
        self.stub = pbg.AnnotateStub(channel)
        self.truth = read_truth(a.data)
        self.rng = random.Random(a.seed)
        self.reviewed = set()      # ids labelled by this run
        self.snapshot = []         # ItemSummary list, as last read
        self.snapshot_at = 0.0
        self.labels = list(self.status().labels)
        self.spent = 0
        self.wrong = 0
        self.started = time.monotonic()
        self.reports = []

    # ---- reading the cluster ----------------------------------------------

    def status(self):
        return self.stub.ClusterStatus(self.pb.ClusterStatusRequest(), timeout=self.a.timeout)

    def list_all(self):
        items, token = [], ""
        while True:
            r = self.stub.ListItems(self.pb.ListItemsRequest(page_size=PAGE_SIZE, page_token=token),
                                    timeout=self.a.timeout)
            items.extend(r.items)
            if not r.next_page_token or r.next_page_token == token:
                return items
            token = r.next_page_token

    def refresh(self, force=False):
        if force or time.monotonic() - self.snapshot_at > REFRESH_S:
            self.snapshot = self.list_all()
            self.snapshot_at = time.monotonic()

    # ---- choosing and labelling -------------------------------------------

    def pick(self):
        """The least confident item nobody has labelled, or None."""
        best, best_key = None, None
        for s in self.snapshot:
            if s.id in self.reviewed or s.id not in self.truth:
                continue
            src = s.label.source if s.HasField("label") else self.pb.SOURCE_NONE
            if src in MACHINE_FREE:
                continue           # a person (or gold) already said what it is
            conf = -1.0 if src == self.pb.SOURCE_NONE or not s.label.label else s.label.confidence
            key = (conf, self.rng.random())
            if best_key is None or key < best_key:
                best, best_key = s, key
        return best

    def submit(self, item_id):
        label = self.truth[item_id]
        others = [lab for lab in self.labels if lab != label]
        if others and self.rng.random() < self.a.error_rate:
            label = self.rng.choice(others)
            self.wrong += 1
        self.stub.SubmitLabel(self.pb.SubmitLabelRequest(id=item_id, label=label,
                                                         annotator=self.a.annotator),
                              timeout=self.a.timeout)
        self.reviewed.add(item_id)
        self.spent += 1

    # ---- measuring --------------------------------------------------------

    def measure(self):
        """One report row from a fresh read of every item."""
        items = self.list_all()
        model = self.status().current_model
        n = correct = covered = stale = 0
        for s in items:
            if s.id not in self.truth:
                continue
            src = s.label.source if s.HasField("label") else self.pb.SOURCE_NONE
            if src in MACHINE_FREE:
                continue
            n += 1
            if src != self.pb.SOURCE_NONE and s.label.label:
                covered += 1
                correct += s.label.label == self.truth[s.id]
            if model and s.label.model_version != model:
                stale += 1
        row = {"labels": self.spent, "model": model, "accuracy": correct / n if n else 0.0,
               "coverage": covered / n if n else 0.0, "items": n, "stale": stale,
               "elapsed": time.monotonic() - self.started}
        self.reports.append(row)
        return row

    @staticmethod
    def line(r):
        return (f"{r['labels']:>6}  {r['model']:>5}  {r['accuracy']:>8.3f}  {r['coverage']:>8.3f}  "
                f"{r['items']:>6}  {r['stale']:>6}  {r['elapsed']:>7.1f}s{r.get('note', '')}")

    def report(self, note=""):
        r = self.measure()
        r["note"] = note
        print(self.line(r), flush=True)
        return r

    def settle(self):
        """Waits until every machine-labelled item carries the current model
        version (re-annotation runs in the background), up to --settle s."""
        deadline = time.monotonic() + self.a.settle
        while True:
            r = self.measure()
            self.reports.pop()
            if (r["model"] and r["stale"] == 0) or time.monotonic() >= deadline:
                return
            time.sleep(0.25)

    def run(self):
        header = (f"{'LABELS':>6}  {'MODEL':>5}  {'ACCURACY':>8}  {'COVERAGE':>8}  "
                  f"{'ITEMS':>6}  {'STALE':>6}  {'ELAPSED':>8}")
        print(header, flush=True)
        self.report()
        while self.spent < self.a.budget:
            self.refresh()
            item = self.pick()
            if item is None:
                self.refresh(force=True)
                item = self.pick()
                if item is None:
                    print("no unreviewed item left", file=sys.stderr)
                    break
            time.sleep(self.a.delay)
            self.submit(item.id)
            if self.spent % self.a.report_every == 0:
                self.report()
        if self.a.settle > 0:
            self.settle()
        last = self.report("  (final)")
        print()
        print(f"SIMULATED reviewer: {self.spent} labels spent ({self.wrong} deliberately wrong), "
              f"machine accuracy {last['accuracy']:.3f} over {last['items']} items not labelled "
              f"by a person, coverage {last['coverage']:.3f}")
        print(header)
        for r in self.reports:
            print(self.line(r))


def main():
    ap = argparse.ArgumentParser(
        description="SIMULATED human reviewer: labels the least confident items with the "
                    "true labels from the dataset's meta.truth (see the file's docstring).")
    ap.add_argument("--data", required=True, help="the JSONL file that was ingested (meta.truth per line)")
    ap.add_argument("--addr", default=os.environ.get("ANNOTATECTL_ADDR") or "127.0.0.1:7400")
    ap.add_argument("--budget", type=int, default=300, help="human labels to spend (default 300)")
    ap.add_argument("--delay", type=float, default=0.05, help="seconds per item (default 0.05)")
    ap.add_argument("--error-rate", type=float, default=0.02,
                    help="probability of submitting a wrong label (default 0.02)")
    ap.add_argument("--report-every", type=int, default=25, help="labels between reports (default 25)")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="at the end, wait up to this long for re-annotation (default 10)")
    ap.add_argument("--annotator", default="simulated-reviewer")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0, help="deadline of each RPC, seconds")
    a = ap.parse_args()
    if a.budget < 0 or a.delay < 0 or not 0 <= a.error_rate <= 1 or a.report_every < 1 \
            or a.settle < 0 or a.timeout <= 0:
        ap.error("--budget, --delay, --settle must be >= 0, --error-rate in [0, 1], "
                 "--report-every >= 1, --timeout > 0")

    import grpc
    tmp = tempfile.mkdtemp(prefix="simulated-reviewer.")
    try:
        generate_stubs(tmp)
        from annotate.v1 import annotate_pb2 as pb, annotate_pb2_grpc as pbg
        global MACHINE_FREE
        MACHINE_FREE = {pb.SOURCE_HUMAN, pb.SOURCE_GOLD}
        with grpc.insecure_channel(a.addr) as channel:
            try:
                Reviewer(a, pb, pbg, channel).run()
            except grpc.RpcError as e:
                print(f"simulated_reviewer: {a.addr}: {e.code().name}: {e.details()}", file=sys.stderr)
                return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
