#!/usr/bin/python3
"""SIMULATED human reviewer for an annotate cluster: a script that plays the
part of a person labelling items, so the learning loop can be watched (and
measured) without one. It is NOT a labelling tool and no part of annotate:
it cheats by reading the true labels from the dataset file (meta.truth of
each JSONL line), which a real reviewer would have to decide by looking.

What it does, until --budget labels are spent or the queue is empty:
  1. leases the next items from the cluster's review queue (NextReview):
     the cluster chooses them (active learning: the random validation
     sample first, then the items the model is least sure of, a diverse
     batch; a random seed set before any model exists);
  2. waits --delay seconds per item (a person's reading time, shortened);
  3. answers with SubmitReview: accepts the suggestion when it is the true
     label, corrects it otherwise, and with probability --error-rate gives
     a wrong label (people make mistakes; the loop must cope).
Every --report-every labels it prints one line: human labels spent, the
current model version, how many labels the cluster auto-accepted, the
accuracy of the auto-accepted labels and of every machine label against
the truth, the accuracy of the whole dataset (people's, auto-accepted and
model labels together; items with no label count as wrong), and the
coverage (share of items not labelled by a person that carry a machine
label). At the end it waits up to --settle seconds for the background
re-annotation to reach every item, reports once more, prints a table of
all the lines and the cluster's own estimate (Stats) beside the measured
accuracy of its auto-accepted labels.

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
        self.labels = list(self.status().labels)
        self.spent = 0
        self.wrong = 0
        self.accepted = 0
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

    # ---- reviewing ------------------------------------------------------------

    def lease(self):
        r = self.stub.NextReview(self.pb.NextReviewRequest(reviewer=self.a.annotator,
                                                           max_items=self.a.batch),
                                 timeout=self.a.timeout)
        if not r.tasks:
            print(f"review queue: {r.exhausted} (depth {r.queue_depth})", file=sys.stderr)
        return list(r.tasks)

    def answer(self, task):
        item_id = task.item.id
        truth = self.truth.get(item_id)
        suggestion = task.suggestion.label if task.HasField("suggestion") else ""
        if truth is None:
            self.stub.SubmitReview(self.pb.SubmitReviewRequest(
                reviewer=self.a.annotator, lease=task.lease, id=item_id,
                action=self.pb.ACTION_SKIP), timeout=self.a.timeout)
            return
        label = truth
        others = [lab for lab in self.labels if lab != label]
        if others and self.rng.random() < self.a.error_rate:
            label = self.rng.choice(others)
            self.wrong += 1
        if label == suggestion:
            req = self.pb.SubmitReviewRequest(reviewer=self.a.annotator, lease=task.lease,
                                              id=item_id, action=self.pb.ACTION_ACCEPT)
            self.accepted += 1
        else:
            req = self.pb.SubmitReviewRequest(reviewer=self.a.annotator, lease=task.lease,
                                              id=item_id, action=self.pb.ACTION_CORRECT,
                                              label=label)
        self.stub.SubmitReview(req, timeout=self.a.timeout)
        self.spent += 1

    # ---- measuring --------------------------------------------------------

    def measure(self):
        """One report row from a fresh read of every item."""
        items = self.list_all()
        model = self.status().current_model
        n = correct = covered = stale = 0
        auto = auto_ok = whole_ok = 0
        for s in items:
            if s.id not in self.truth:
                continue
            src = s.label.source if s.HasField("label") else self.pb.SOURCE_NONE
            right = bool(s.label.label) and s.label.label == self.truth[s.id]
            whole_ok += right
            if src in MACHINE_FREE:
                continue
            n += 1
            if src == self.pb.SOURCE_AUTO:
                auto += 1
                auto_ok += right
            if src != self.pb.SOURCE_NONE and s.label.label:
                covered += 1
                correct += right
            if model and src == self.pb.SOURCE_MODEL and s.label.model_version != model:
                stale += 1
        total = len([s for s in items if s.id in self.truth])
        row = {"labels": self.spent, "model": model, "accuracy": correct / n if n else 0.0,
               "coverage": covered / n if n else 0.0, "items": n, "stale": stale,
               "auto": auto, "auto_acc": auto_ok / auto if auto else 0.0,
               "whole": whole_ok / total if total else 0.0,
               "elapsed": time.monotonic() - self.started}
        self.reports.append(row)
        return row

    @staticmethod
    def line(r):
        return (f"{r['labels']:>6}  {r['model']:>5}  {r['auto']:>6}  {r['auto_acc']:>8.3f}  "
                f"{r['accuracy']:>8.3f}  {r['whole']:>8.3f}  {r['coverage']:>8.3f}  "
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
        header = (f"{'LABELS':>6}  {'MODEL':>5}  {'AUTO':>6}  {'AUTO ACC':>8}  {'MACHINE':>8}  "
                  f"{'WHOLE':>8}  {'COVERAGE':>8}  {'ITEMS':>6}  {'STALE':>6}  {'ELAPSED':>8}")
        print(header, flush=True)
        self.report()
        next_report = self.a.report_every
        empty = 0
        while self.spent < self.a.budget:
            tasks = self.lease()
            if not tasks:
                empty += 1
                if empty > self.a.patience:
                    break
                time.sleep(0.5)     # labels may still be on their way
                continue
            empty = 0
            for task in tasks:
                if self.spent >= self.a.budget:
                    break
                time.sleep(self.a.delay)
                self.answer(task)
                if self.spent >= next_report:
                    next_report += self.a.report_every
                    self.report()
        if self.a.settle > 0:
            self.settle()
        last = self.report("  (final)")
        st = self.stub.Stats(self.pb.StatsRequest(), timeout=self.a.timeout)
        print()
        print(f"SIMULATED reviewer: {self.spent} labels spent ({self.accepted} accepted the "
              f"suggestion, {self.wrong} deliberately wrong); whole dataset accuracy "
              f"{last['whole']:.3f}; machine accuracy {last['accuracy']:.3f} over "
              f"{last['items']} items not labelled by a person, coverage {last['coverage']:.3f}")
        print(f"auto-accepted: {last['auto']} labels, measured accuracy {last['auto_acc']:.3f}; "
              f"the cluster estimated {st.auto_accuracy:.3f} "
              f"[{st.auto_lower:.3f}, {st.auto_upper:.3f}] for target {st.target_accuracy:.2f}")
        print(header)
        for r in self.reports:
            print(self.line(r))


def main():
    ap = argparse.ArgumentParser(
        description="SIMULATED human reviewer: answers the cluster's review queue with the "
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
    ap.add_argument("--batch", type=int, default=10, help="items leased at a time (default 10)")
    ap.add_argument("--patience", type=int, default=20,
                    help="empty leases (0.5 s apart) before stopping (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0, help="deadline of each RPC, seconds")
    a = ap.parse_args()
    if a.budget < 0 or a.delay < 0 or not 0 <= a.error_rate <= 1 or a.report_every < 1 \
            or a.settle < 0 or a.timeout <= 0 or not 1 <= a.batch <= 100 or a.patience < 0:
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
