#!/usr/bin/python3
"""check_events.py: checks a label event log from `annotatectl watch -o json`.

    check_events.py EVENTS [--after SEQ] [--items JSONL]... [--count ID=N]...
                    [--source none] [--workers w1,w2]

Fails (exit 1, with the reason) unless:
- every line is a JSON object with at least seq and id;
- seq starts at SEQ+1 and goes up by exactly one each line (no gaps, no repeats);
- every id of the --items files has exactly one event (or N with --count ID=N),
  and no event names an id outside them (when --items is given);
- items with a gold "label" in the file got a "gold" event with that label,
  the others an event of --source (when given), with an empty label;
- the event's worker is one of --workers (for non-gold events, when given).
Prints "events: N, seq A..B" on success.
"""
import argparse
import json
import sys


def die(msg):
    print(f"check_events: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--items", action="append", default=[])
    ap.add_argument("--count", action="append", default=[])
    ap.add_argument("--source")
    ap.add_argument("--workers")
    a = ap.parse_args()

    events = []
    with open(a.events, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError as e:
                die(f"{a.events}:{n}: not JSON: {e}: {line[:200]}")
            if not isinstance(ev, dict) or "seq" not in ev or "id" not in ev:
                die(f"{a.events}:{n}: no seq/id: {line[:200]}")
            events.append(ev)

    want = a.after + 1
    for n, ev in enumerate(events, 1):
        seq = int(ev["seq"])
        if seq != want:
            die(f"event {n}: seq {seq}, want {want} (gap or repeat)")
        want += 1

    per_id = {}
    for ev in events:
        per_id.setdefault(ev["id"], []).append(ev)

    if a.items:
        gold = {}
        ids = set()
        for path in a.items:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        it = json.loads(line)
                        ids.add(str(it["id"]))
                        if it.get("label"):
                            gold[str(it["id"])] = it["label"]
        expect = {i: 1 for i in ids}
        for c in a.count:
            i, _, n = c.rpartition("=")
            expect[i] = int(n)
        extra = set(per_id) - set(expect)
        if extra:
            die(f"{len(extra)} events for ids not ingested, e.g. {sorted(extra)[:5]}")
        missing = [i for i in expect if i not in per_id]
        if missing:
            die(f"{len(missing)} of {len(expect)} items have no event, e.g. {sorted(missing)[:5]}")
        wrong = [(i, len(per_id[i]), n) for i, n in expect.items() if len(per_id[i]) != n]
        if wrong:
            die(f"{len(wrong)} items with the wrong number of events (id, got, want): {wrong[:5]}")
        workers = set(a.workers.split(",")) if a.workers else None
        for i, evs in per_id.items():
            ev = evs[-1]
            if i in gold:
                if ev.get("source") != "gold" or ev.get("label") != gold[i]:
                    die(f"gold item {i}: event {ev}, want source gold label {gold[i]}")
                continue
            if a.source and ev.get("source") != a.source:
                die(f"item {i}: source {ev.get('source')!r}, want {a.source!r}: {ev}")
            if a.source == "none" and ev.get("label"):
                die(f"item {i}: source none with a label: {ev}")
            if workers is not None and ev.get("worker") not in workers:
                die(f"item {i}: worker {ev.get('worker')!r} not in {sorted(workers)}: {ev}")

    first = events[0]["seq"] if events else "-"
    last = events[-1]["seq"] if events else "-"
    print(f"events: {len(events)}, seq {first}..{last}")


if __name__ == "__main__":
    main()
