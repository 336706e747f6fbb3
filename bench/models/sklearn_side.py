#!/usr/bin/python3
"""scikit-learn side of the model benchmarks (bench/models/run.sh).

    sklearn_side.py data KIND TRAIN.jsonl TEST.jsonl [REPEAT] [SVM_PREFIX]
    sklearn_side.py fixtures
    sklearn_side.py env

`data` mirrors `bench_model data` on the same files: features built the
same way (digits: pixels / 16; fashion: pixels as given; spam:
HashingVectorizer, 2^18 features, alternate_sign, unigrams + bigrams),
LogisticRegression with the liblinear solver (tol 1e-4, scikit-learn's
default, and tol 0.01, the eps our model uses) and lbfgs, trained REPEAT
times each (median time), accuracy on TEST; then predict_proba latency one
item at a time and in batches of 256, feature extraction included. With
SVM_PREFIX, also liblinear on exactly our features (SVM_PREFIX-*.svm,
written by bench_model). Environment: BENCH_SOLVERS="lbfgs|liblinear
tol=0.01" trains only the solvers named (bench/models/run_blas.sh);
BENCH_NO_LATENCY=1 skips the latency part.

`fixtures` prints the accuracies the unit test's floors come from
(tests/unit/test_model.c: the fixture split i % 4).

Output: one JSON object a line, like bench_model.
"""
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore", category=ConvergenceWarning)
BATCH = 256
SCALE = {"digits": 1 / 16, "fashion": 1.0}


def emit(obj):
    print(json.dumps(obj), flush=True)


def load(path):
    items = [json.loads(line) for line in open(path, encoding="utf-8")]
    return items, np.array([it["meta"]["truth"] for it in items])


def vectorizer():
    return HashingVectorizer(n_features=2 ** 18, ngram_range=(1, 2), alternate_sign=True)


class Features:
    """Raw input and its transform, so latency can include the transform."""

    def __init__(self, kind, items):
        self.kind = kind
        if kind == "spam":
            self.raw = [it.get("text", "") for it in items]
            self.hv = vectorizer()
        else:
            self.raw = np.array([it["vector"] for it in items], dtype=np.float64)

    def transform(self, lo, hi):
        if self.kind == "spam":
            return self.hv.transform(self.raw[lo:hi])
        return self.raw[lo:hi] * SCALE[self.kind]


def timed_fit(make, X, y, repeat):
    times, model = [], None
    for _ in range(repeat):
        if times and times[0] > 60:
            break       # a fit over a minute is timed once
        model = make()
        t0 = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - t0)
    return model, statistics.median(times), len(times)


SOLVERS = [
    ("liblinear tol=1e-4", lambda: LogisticRegression(solver="liblinear", C=1.0)),
    ("liblinear tol=0.01", lambda: LogisticRegression(solver="liblinear", C=1.0, tol=0.01)),
    ("lbfgs", lambda: LogisticRegression(solver="lbfgs", C=1.0, max_iter=100)),
]


def latency(model, feats, n):
    single = []
    for i in range(n):
        t0 = time.perf_counter()
        model.predict_proba(feats.transform(i, i + 1))
        single.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for lo in range(0, n, BATCH):
        model.predict_proba(feats.transform(lo, min(n, lo + BATCH)))
    batched = (time.perf_counter() - t0) / n
    return sum(single) / n * 1e6, batched * 1e6


def cmd_data(kind, train_path, test_path, repeat=3, svm_prefix=None):
    repeat = int(repeat)
    tr_items, ytr = load(train_path)
    te_items, yte = load(test_path)
    ftr, fte = Features(kind, tr_items), Features(kind, te_items)
    t0 = time.perf_counter()
    Xtr, Xte = ftr.transform(0, len(tr_items)), fte.transform(0, len(te_items))
    emit({"side": "sklearn", "dataset": kind, "what": "features", "items": len(tr_items) + len(te_items),
          "us_per_item": (time.perf_counter() - t0) / (len(tr_items) + len(te_items)) * 1e6})
    models = {}
    only = os.environ.get("BENCH_SOLVERS")     # e.g. "lbfgs|liblinear tol=0.01"
    for name, make in SOLVERS:
        if only and name not in only.split("|"):
            continue
        m, secs, runs = timed_fit(make, Xtr, ytr, repeat)
        models[name] = m
        emit({"side": "sklearn", "dataset": kind, "what": "train", "solver": name,
              "n_train": len(ytr), "n_test": len(yte), "accuracy": round(m.score(Xte, yte), 4),
              "train_s": round(secs, 3), "runs": runs})
    if svm_prefix:
        from sklearn.datasets import load_svmlight_file
        n_feat = 2 ** 18 if kind == "spam" else Xtr.shape[1]
        Str, str_y = load_svmlight_file(svm_prefix + "-train.svm", n_features=n_feat)
        Ste, ste_y = load_svmlight_file(svm_prefix + "-test.svm", n_features=n_feat)
        m, secs, runs = timed_fit(SOLVERS[0][1], Str, str_y, 1)
        emit({"side": "sklearn", "dataset": kind, "what": "train", "solver": "liblinear tol=1e-4, our features",
              "n_train": len(str_y), "n_test": len(ste_y), "accuracy": round(m.score(Ste, ste_y), 4),
              "train_s": round(secs, 3)})
    if os.environ.get("BENCH_NO_LATENCY"):
        return
    model = models.get("liblinear tol=0.01") or timed_fit(SOLVERS[1][1], Xtr, ytr, 1)[0]
    n = len(te_items)
    runs = [latency(model, fte, n) for _ in range(repeat)]
    emit({"side": "sklearn", "dataset": kind, "what": "latency", "n": n,
          "single_us": statistics.median(r[0] for r in runs),
          "batch256_us_per_item": statistics.median(r[1] for r in runs)})


def cmd_fixtures():
    here = os.path.dirname(os.path.abspath(__file__))
    fx = os.path.join(here, "..", "..", "tests", "data", "fixtures")
    for kind, name in (("digits", "digits-300.jsonl"), ("spam", "spam-400.jsonl")):
        items, y = load(os.path.join(fx, name))
        X = Features(kind, items).transform(0, len(items))
        i = np.arange(len(items))
        tr, te = i % 4 < 2, i % 4 == 3
        for solver in ("liblinear", "lbfgs"):
            m = LogisticRegression(solver=solver, C=1.0, max_iter=1000).fit(X[tr], y[tr])
            emit({"fixture": name, "solver": solver, "test_accuracy": round(m.score(X[te], y[te]), 4)})


def cmd_env():
    import sklearn
    info = {"sklearn": sklearn.__version__, "numpy": np.__version__, "cpus": os.cpu_count()}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "filepath", "version", "num_threads")}
                        for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl missing"
    emit(info)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "data":
        cmd_data(*sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] == "fixtures":
        cmd_fixtures()
    elif len(sys.argv) == 2 and sys.argv[1] == "env":
        cmd_env()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
