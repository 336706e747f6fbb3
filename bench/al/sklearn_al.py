#!/usr/bin/python3
"""scikit-learn side of the active-learning benchmarks (bench/al/run.sh).

    sklearn_al.py NAME KIND TRAIN.jsonl TEST.jsonl BATCH BUDGET SPLIT.json...

The same loop as bench_al (bench/al/bench_al.c) with scikit-learn's
LogisticRegression (C=1, its defaults otherwise: lbfgs, 100 iterations)
and margin sampling, on the same split files (pool, test items, validation
sample V, cold-start seed set), batch size and budget. Features as in
bench/models/sklearn_side.py: digits pixels / 16, fashion pixels as given,
spam HashingVectorizer(2^18, unigrams + bigrams, alternate_sign).

Per round: test accuracy, then the auto-accept figures under the two rules
of bench/al/README.md ("fixed": per-class target 0.95; "dataset": the
per-class target with the fewest human labels whose claimed lower bound
for the whole dataset is >= 0.95), with the per-class thresholds fitted by
a port of al_fit_thresholds (Wilson lower bound, z 1.645, at least 20
sample items above the threshold, the lowest qualifying confidence, tried
only at the end of a run of tied confidences).

Output: JSON lines like bench_al's, "side": "sklearn".
"""
import json
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore", category=ConvergenceWarning)
SCALE = {"digits": 1 / 16, "fashion": 1.0}
TARGET, Z, MIN_SUPPORT = 0.95, 1.645, 20


def load(kind, path):
    items = [json.loads(line) for line in open(path, encoding="utf-8")]
    y = np.array([it["meta"]["truth"] for it in items])
    if kind == "spam":
        hv = HashingVectorizer(n_features=2 ** 18, ngram_range=(1, 2), alternate_sign=True)
        X = hv.transform([it.get("text", "") for it in items]).tocsr()
    else:
        X = np.array([it["vector"] for it in items], dtype=np.float64) * SCALE[kind]
    return X, y


def wilson_lo(correct, n, z=Z):
    n = np.asarray(n, dtype=np.float64)
    p = correct / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.clip(centre - half, 0, 1)


def fit_thresholds(conf, pred, truth, k, target):
    """Per class: (enabled, threshold, accuracy, lower) as al_fit_thresholds."""
    out = []
    for c in range(k):
        sel = pred == c
        cc = conf[sel]
        ok = (truth[sel] == c).astype(np.int64)
        order = np.argsort(-cc, kind="stable")
        cc, ok = cc[order], ok[order]
        n = np.arange(1, len(cc) + 1)
        cum = np.cumsum(ok)
        if len(cc) == 0:
            out.append((False, 2.0, 0.0, 0.0))
            continue
        boundary = np.append(cc[1:] != cc[:-1], True)
        lo = wilson_lo(cum, n)
        good = np.flatnonzero(boundary & (n >= MIN_SUPPORT) & (lo >= target))
        if len(good):
            i = good[-1]
            out.append((True, float(cc[i]), cum[i] / n[i], float(lo[i])))
        else:
            out.append((False, 2.0, cum[-1] / n[-1], float(lo[-1])))
    return out


def share_at(conf, pred, truth, is_open, sample, k, target):
    th = fit_thresholds(*sample, k, target)
    en = np.array([t[0] for t in th])
    thr = np.array([t[1] for t in th], dtype=np.float32)
    acc_c = np.array([t[2] for t in th])
    lo_c = np.array([t[3] for t in th])
    auto = is_open & en[pred] & (conf >= thr[pred])
    n_pool, n_auto = len(conf), int(auto.sum())
    correct = int((pred[auto] == truth[auto]).sum())
    count = np.bincount(pred[auto], minlength=k)
    claim = float((count * acc_c).sum() / n_auto) if n_auto else 0.0
    claim_lo = float((count * lo_c).sum() / n_auto) if n_auto else 0.0
    vc, vp, vt = sample
    v_in = en[vp] & (vc >= thr[vp])
    v_n, v_ok = int(v_in.sum()), int((vp[v_in] == vt[v_in]).sum())
    n_human = n_pool - n_auto
    return {"target": target, "share": n_human / n_pool, "whole": (n_human + correct) / n_pool,
            "n_auto": n_auto, "auto_acc": correct / n_auto if n_auto else 0.0,
            "claim": claim, "claim_lo": claim_lo,
            "pooled": v_ok / v_n if v_n else 0.0, "pooled_lo": float(wilson_lo(v_ok, v_n)) if v_n else 0.0}


def share_dataset_rule(conf, pred, truth, is_open, sample, k):
    """(pooled, per_class) as bench_al's share_dataset_rule."""
    n_pool = len(conf)
    pooled = per_class = share_at(conf, pred, truth, is_open, sample, k, 1.0)
    for t in range(995, 299, -5):
        s = share_at(conf, pred, truth, is_open, sample, k, t / 1000)
        h, a = n_pool - s["n_auto"], s["n_auto"]
        if (h + s["pooled_lo"] * a) / n_pool >= TARGET and a > pooled["n_auto"]:
            pooled = s
        if (h + s["claim_lo"] * a) / n_pool >= TARGET and a > per_class["n_auto"]:
            per_class = s
    return pooled, per_class


def shown(s, pooled):
    """The claim the rule used, under the names bench_al prints."""
    out = {k: s[k] for k in ("target", "share", "whole", "n_auto", "auto_acc")}
    out["claim"], out["claim_lo"] = (s["pooled"], s["pooled_lo"]) if pooled else (s["claim"], s["claim_lo"])
    return rnd(out)


def emit(obj):
    print(json.dumps(obj), flush=True)


def rnd(d):
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in d.items()}


def run_seed(name, split, Xtr, ytr, Xte, yte, classes, batch, budget):
    pool = np.array(split["pool"])
    test = np.array(split["test_idx"])
    Xp, yp = Xtr[pool], np.searchsorted(classes, ytr[pool])
    Xt, yt = Xte[test], np.searchsorted(classes, yte[test])
    pos = {int(i): p for p, i in enumerate(pool)}
    state = np.zeros(len(pool), dtype=np.int8)          # 0 open, 1 labelled, 2 in V
    state[[pos[i] for i in split["valid"]]] = 2
    state[[pos[i] for i in split["seed_set"]]] = 1
    seed, k = split["seed"], len(classes)
    full = LogisticRegression(C=1.0).fit(Xp, yp)
    emit({"side": "sklearn", "what": "full", "data": name, "seed": seed, "n_pool": len(pool),
          "acc": round(float((full.predict(Xt) == yt).mean()), 5)})
    rnd_no = 0
    while True:
        lab = state == 1
        t0 = time.perf_counter()
        m = LogisticRegression(C=1.0).fit(Xp[lab], yp[lab])
        train_s = time.perf_counter() - t0
        acc = float((m.predict(Xt) == yt).mean())
        proba = np.zeros((len(pool), k))
        proba[:, np.searchsorted(classes, classes[m.classes_])] = m.predict_proba(Xp)
        pred = proba.argmax(axis=1)
        conf = proba[np.arange(len(pool)), pred].astype(np.float32)
        v = state == 2
        sample = (conf[v], pred[v], yp[v])
        is_open = state == 0
        fixed = share_at(conf, pred, yp, is_open, sample, k, TARGET)
        dataset, per_class = share_dataset_rule(conf, pred, yp, is_open, sample, k)
        emit({"side": "sklearn", "what": "round", "data": name, "seed": seed, "strategy": "margin",
              "round": rnd_no, "labels": int(lab.sum()), "n_valid": int(v.sum()), "n_pool": len(pool),
              "acc": round(acc, 5), "train_s": round(train_s, 3), "fixed": shown(fixed, False),
              "dataset": shown(dataset, True), "dataset_pc": shown(per_class, False)})
        n_lab = int(lab.sum())
        b = min(batch, budget - n_lab)
        cand = np.flatnonzero(is_open)
        if b <= 0 or len(cand) == 0:
            break
        top2 = np.sort(proba[cand], axis=1)[:, -2:]
        score = (1 - (top2[:, 1] - top2[:, 0])).astype(np.float32)
        order = np.lexsort((cand, -score))
        state[cand[order[:b]]] = 1
        rnd_no += 1


def main():
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    name, kind, train, test = sys.argv[1:5]
    batch, budget = int(sys.argv[5]), int(sys.argv[6])
    Xtr, ytr = load(kind, train)
    Xte, yte = (Xtr, ytr) if test == train else load(kind, test)
    classes = np.array(sorted(set(ytr)))
    for path in sys.argv[7:]:
        with open(path) as fp:
            split = json.load(fp)
        run_seed(name, split, Xtr, ytr, Xte, yte, classes, batch, budget)


if __name__ == "__main__":
    main()
