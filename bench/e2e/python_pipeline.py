#!/usr/bin/python3
"""python_pipeline.py: the Python side of the end-to-end benchmark.

    python_pipeline.py TRAIN_JSONL REST_JSONL LMDB_DIR [--batch 256]

What a team would write without annotate: scikit-learn's HashingVectorizer
(2^18 signed buckets, word unigrams and bigrams, l2) and an SGDClassifier
with log loss, fitted on the training part (not timed); then, timed, for
each batch of 256 of the rest: vectorise, predict_proba, and write one
record per item (id -> JSON with label, confidence, probabilities and time)
into an LMDB environment, one write transaction a batch, with LMDB's default
sync commits: every batch is on disk when its transaction returns, as every
label is in the cluster.

Reading and parsing the JSONL is not timed either (the cluster's figure does
include it: annotatectl reads the file), so the comparison favours Python.

Prints one JSON object: items, seconds, items_per_s, accuracy (labels
against meta.truth), read_s, fit_s, and the per-stage split of the timed
loop (vectorise_s, predict_s, write_s).
"""
import argparse
import json
import os
import sys
import time

import lmdb
import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier


def read(path):
    ids, texts, truth, labels = [], [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            ids.append(d["id"])
            texts.append(d.get("text", ""))
            truth.append(d["meta"]["truth"])
            labels.append(d.get("label"))
    return ids, texts, truth, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("rest")
    ap.add_argument("lmdb_dir")
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    if a.batch < 1:
        sys.exit("python_pipeline.py: --batch must be at least 1")

    t = time.perf_counter()
    _, tr_texts, _, tr_labels = read(a.train)
    ids, texts, truth, _ = read(a.rest)
    read_s = time.perf_counter() - t

    vec = HashingVectorizer(n_features=2**18, alternate_sign=True, ngram_range=(1, 2))
    clf = SGDClassifier(loss="log_loss", random_state=0)
    t = time.perf_counter()
    clf.fit(vec.transform(tr_texts), tr_labels)
    fit_s = time.perf_counter() - t
    classes = [str(c) for c in clf.classes_]

    os.makedirs(a.lmdb_dir, exist_ok=True)
    env = lmdb.open(a.lmdb_dir, map_size=1 << 30)   # LMDB defaults: sync, metasync
    n = len(ids)
    correct = 0
    t_vec = t_pred = t_write = 0.0
    t0 = time.perf_counter()
    for lo in range(0, n, a.batch):
        hi = min(lo + a.batch, n)
        t1 = time.perf_counter()
        x = vec.transform(texts[lo:hi])
        t2 = time.perf_counter()
        proba = clf.predict_proba(x)
        t3 = time.perf_counter()
        best = np.argmax(proba, axis=1)
        now_ms = int(time.time() * 1000)
        with env.begin(write=True) as txn:
            for i in range(hi - lo):
                k = int(best[i])
                label = classes[k]
                correct += label == truth[lo + i]
                rec = {"label": label, "confidence": float(proba[i, k]),
                       "probabilities": {c: float(p) for c, p in zip(classes, proba[i])},
                       "source": "model", "time_ms": now_ms}
                txn.put(ids[lo + i].encode(), json.dumps(rec).encode())
        t4 = time.perf_counter()
        t_vec += t2 - t1
        t_pred += t3 - t2
        t_write += t4 - t3
    seconds = time.perf_counter() - t0
    with env.begin() as txn:
        stored = txn.stat()["entries"]
    env.close()
    if stored != n:
        sys.exit(f"python_pipeline.py: {stored} records in LMDB, want {n}")
    print(json.dumps({
        "items": n, "seconds": round(seconds, 4), "items_per_s": round(n / seconds, 1),
        "accuracy": round(correct / n, 4), "read_s": round(read_s, 3), "fit_s": round(fit_s, 3),
        "vectorise_s": round(t_vec, 4), "predict_s": round(t_pred, 4), "write_s": round(t_write, 4),
        "train_items": len(tr_texts)}))


if __name__ == "__main__":
    main()
