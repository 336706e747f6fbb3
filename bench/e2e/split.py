#!/usr/bin/python3
"""split.py: cut spam.jsonl into a training part and the rest, deterministically.

    split.py SPAM_JSONL OUTDIR [--train-percent 25]

An item goes to the training part when the first 8 bytes of the MD5 of its
id, as a big-endian integer, modulo 100 fall below --train-percent: the
split depends only on the ids, not on the order of the file. The training
part carries its gold label (`label` = meta.truth); the rest has no label.
Both keep meta (meta.truth included: the model never reads meta, and the
benchmark reads the truth back from these files to score the labels).
Writes OUTDIR/train.jsonl and OUTDIR/rest.jsonl and prints their sizes.
"""
import argparse
import hashlib
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("outdir")
    ap.add_argument("--train-percent", type=int, default=25)
    a = ap.parse_args()
    if not 1 <= a.train_percent <= 99:
        sys.exit("split.py: --train-percent must be 1..99")
    os.makedirs(a.outdir, exist_ok=True)
    n_train = n_rest = 0
    with open(a.src, encoding="utf-8") as f, \
            open(os.path.join(a.outdir, "train.jsonl"), "w", encoding="utf-8") as tr, \
            open(os.path.join(a.outdir, "rest.jsonl"), "w", encoding="utf-8") as rest:
        for line in f:
            d = json.loads(line)
            d.pop("label", None)
            h = int.from_bytes(hashlib.md5(d["id"].encode()).digest()[:8], "big")
            if h % 100 < a.train_percent:
                d["label"] = d["meta"]["truth"]
                tr.write(json.dumps(d, ensure_ascii=False) + "\n")
                n_train += 1
            else:
                rest.write(json.dumps(d, ensure_ascii=False) + "\n")
                n_rest += 1
    print(json.dumps({"train": n_train, "rest": n_rest}))


if __name__ == "__main__":
    main()
