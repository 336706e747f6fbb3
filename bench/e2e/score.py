#!/usr/bin/python3
"""score.py: scores the model labels the cluster streamed during a run.

    score.py REST_JSONL WATCH_JSONL

WATCH_JSONL is `annotatectl watch -o json` output (one label event a line).
Prints one JSON object: events, items (distinct ids of the rest that got a
model label), missing (items of the rest without one), foreign (events for
ids outside the rest), accuracy (the last model label of each item against
meta.truth, a missing item counting as wrong), versions (model versions
seen), first_ms / last_ms (the events' commit times).
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: score.py REST_JSONL WATCH_JSONL")
    truth = {}
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            truth[d["id"]] = d["meta"]["truth"]
    labels, versions = {}, set()
    events = foreign = 0
    first = last = None
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            e = json.loads(line)
            if e.get("source") != "model":
                continue
            events += 1
            if e["id"] not in truth:
                foreign += 1
                continue
            labels[e["id"]] = e.get("label")
            versions.add(int(e.get("model_version") or 0))
            t = int(e.get("time_ms") or 0)
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
    ok = sum(1 for i, lab in labels.items() if lab == truth[i])
    print(json.dumps({
        "events": events, "items": len(labels), "missing": len(truth) - len(labels),
        "foreign": foreign, "accuracy": round(ok / len(truth), 4) if truth else 0.0,
        "versions": sorted(versions), "first_ms": first, "last_ms": last}))


if __name__ == "__main__":
    main()
