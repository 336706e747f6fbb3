#!/usr/bin/env python3
"""Writes scikit-learn's bundled digits set (Debian python3-sklearn) as
annotate JSONL items: one 8x8 image a line, its 64 grey levels as the vector.

    digits_jsonl.py [--repeat N] [--gold EVERY] [--limit N] > digits.jsonl

--repeat N   write the 1,797 images N times with distinct ids (for volume tests)
--gold K     give every K-th item its true label as a gold label
--limit N    stop after N items
The true label is always kept in meta.truth for measuring accuracy later.
Reads the CSV directly, so numpy and sklearn need not be importable.
"""
import argparse
import csv
import gzip
import json
import sys

PATH = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--gold", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--path", default=PATH)
    a = ap.parse_args()
    try:
        with gzip.open(a.path, "rt") as f:
            rows = [r for r in csv.reader(f) if r]
    except OSError as e:
        sys.exit(f"digits_jsonl: cannot read {a.path}: {e} (install python3-sklearn)")
    out = sys.stdout
    n = 0
    for rep in range(a.repeat):
        for i, row in enumerate(rows):
            if a.limit and n >= a.limit:
                return
            truth = row[-1]
            item = {
                "id": f"digit-{i:04d}" + (f"-r{rep}" if rep else ""),
                "vector": [float(v) for v in row[:-1]],
                "meta": {"dataset": "sklearn-digits", "row": i, "truth": truth},
            }
            if a.gold and n % a.gold == 0:
                item["label"] = truth
            out.write(json.dumps(item, separators=(",", ":")) + "\n")
            n += 1


if __name__ == "__main__":
    main()
