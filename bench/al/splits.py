#!/usr/bin/python3
"""Writes the per-seed splits both sides of bench/al read (bench/al/run.sh).

    splits.py DATA OUTDIR SEED...

DATA is digits, spam, fashion10k or fashion60k; the JSONL files are read
from $DATA_DIR (default bench/data/out). For each seed it writes
OUTDIR/DATA-sSEED.json:

    {"data", "seed", "train": file, "test": file,
     "pool": [...], "test_idx": [...], "valid": [...], "seed_set": [...]}

pool and test_idx are 0-based line numbers of the train and test files;
valid (the reviewer's validation sample) and seed_set (the cold start,
stratified: 20 items, 20 / classes of each class) are disjoint subsets of
pool. Splits:
  digits, spam   one file; test = every 4th line (i % 4 == 3, as in
                 bench/models), pool = the rest. valid: 300 (digits, whose
                 pool is 1,348) / 500 (spam).
  fashion10k     pool = a seeded random 10,000 of fashion-train, test = all
                 of fashion-test; valid 500.
  fashion60k     pool = all 60,000 of fashion-train; valid 500.
"""
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRUTH = re.compile(r'"truth"\s*:\s*"((?:[^"\\]|\\.)*)"')
SEED_SET = 20

DATASETS = {
    "digits": ("digits.jsonl", "digits.jsonl", 300),
    "spam": ("spam.jsonl", "spam.jsonl", 500),
    "fashion10k": ("fashion-train.jsonl", "fashion-test.jsonl", 500),
    "fashion60k": ("fashion-train.jsonl", "fashion-test.jsonl", 500),
}


def truths(path):
    out = []
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            m = TRUTH.search(line)
            if not m:
                sys.exit(f"{path}: line {len(out) + 1} has no meta.truth")
            out.append(m.group(1))
    return np.array(out)


def split(data, y_train, seed):
    rng = np.random.default_rng(seed)
    train_file, test_file, n_valid = DATASETS[data]
    n = len(y_train)
    if train_file == test_file:
        idx = np.arange(n)
        pool, test = idx[idx % 4 != 3], idx[idx % 4 == 3]
    elif data == "fashion10k":
        pool, test = np.sort(rng.choice(n, 10000, replace=False)), None
    else:
        pool, test = np.arange(n), None
    perm = rng.permutation(pool)
    valid = np.sort(perm[:n_valid])
    rest = perm[n_valid:]
    classes = sorted(set(y_train[pool]))
    per = SEED_SET // len(classes)
    seed_set = []
    for c in classes:
        seed_set += [int(i) for i in rest[y_train[rest] == c][:per]]
    return pool, test, valid, sorted(seed_set)


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in DATASETS:
        sys.exit(__doc__)
    data, outdir, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
    src = os.environ.get("DATA_DIR", os.path.join(HERE, "..", "data", "out"))
    train_file, test_file, _ = DATASETS[data]
    y_train = truths(os.path.join(src, train_file))
    n_test = len(y_train) if train_file == test_file else len(truths(os.path.join(src, test_file)))
    os.makedirs(outdir, exist_ok=True)
    for seed in seeds:
        pool, test, valid, seed_set = split(data, y_train, seed)
        test_idx = list(range(n_test)) if test is None else test.tolist()
        doc = {"data": data, "seed": seed, "train": train_file, "test": test_file,
               "pool": pool.tolist(), "test_idx": test_idx, "valid": valid.tolist(),
               "seed_set": seed_set}
        path = os.path.join(outdir, f"{data}-s{seed}.json")
        with open(path + ".tmp", "w") as fp:
            json.dump(doc, fp)
        os.replace(path + ".tmp", path)
        print(path)


if __name__ == "__main__":
    main()
