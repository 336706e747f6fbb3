#!/usr/bin/python3
"""scikit-learn's side of the label-propagation benchmark (bench/propagation/run.sh).

    sklearn_spread.py splits NAME DATA.jsonl N OUTDIR FRACS SEEDS
        writes OUTDIR/NAME-fFRAC-sSEED.json: {"data", "n", "seed", "frac",
        "labelled": sorted line numbers}, round(FRAC * N) items (at least 1)
        drawn without replacement by numpy's default_rng([SEED, FRAC in
        thousandths]). FRACS, SEEDS: comma lists.
    sklearn_spread.py spread NAME DATA.jsonl N NEIGHBOURS SPLIT.json...
        LabelSpreading(kernel='knn', n_neighbors, alpha=0.2, max_iter=30,
        tol=1e-3).fit on the first N items' raw vectors for each split and
        n_neighbors; a JSON line per fit (accuracy on the unlabelled items,
        fit seconds, rows of label_distributions_ no label reached, which
        it labels classes_[0]), then peak resident memory.
    sklearn_spread.py knn DATA.jsonl N K
        seconds of NearestNeighbors(n_neighbors=K+1).fit(X)
        .kneighbors_graph(X) (what LabelSpreading builds), once.
    sklearn_spread.py summarize RESULTS.jsonl
        the Markdown tables of bench/RESULTS.md from both sides' lines.
"""
import json
import os
import resource
import sys
import time
from collections import defaultdict

import numpy as np


def load(path, limit):
    xs, ys, names = [], [], {}
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            if len(xs) >= limit:
                break
            o = json.loads(line)
            xs.append(o["vector"])
            ys.append(names.setdefault(o["meta"]["truth"], len(names)))
    return np.asarray(xs, dtype=np.float64), np.asarray(ys)


def splits(name, path, n, outdir, fracs, seeds):
    n = min(n, sum(1 for _ in open(path, encoding="utf-8")))
    os.makedirs(outdir, exist_ok=True)
    for frac in (float(f) for f in fracs.split(",")):
        for seed in (int(s) for s in seeds.split(",")):
            rng = np.random.default_rng([seed, int(round(frac * 1000))])
            m = max(1, int(round(frac * n)))
            lab = sorted(int(i) for i in rng.choice(n, size=m, replace=False))
            out = os.path.join(outdir, f"{name}-f{frac:g}-s{seed}.json")
            with open(out, "w", encoding="utf-8") as fp:
                json.dump({"data": name, "n": n, "seed": seed, "frac": frac, "labelled": lab}, fp)
            print(out)


def spread(name, path, n, neighbours, split_paths):
    from sklearn.semi_supervised import LabelSpreading
    import warnings
    warnings.simplefilter("ignore")
    X, truth = load(path, n)
    for sp in split_paths:
        with open(sp, encoding="utf-8") as fp:
            s = json.load(fp)
        y = -np.ones(len(truth), dtype=int)
        y[s["labelled"]] = truth[s["labelled"]]
        unl = y == -1
        for k in (int(v) for v in neighbours.split(",")):
            t0 = time.perf_counter()
            m = LabelSpreading(kernel="knn", n_neighbors=k, alpha=0.2, max_iter=30, tol=1e-3).fit(X, y)
            secs = time.perf_counter() - t0
            acc = float((m.transduction_[unl] == truth[unl]).mean())
            zero = int((m.label_distributions_[unl].sum(axis=1) == 0).sum())
            print(json.dumps({"side": "sklearn", "data": name, "n": len(truth), "metric": "euclidean",
                              "seed": s["seed"], "frac": s["frac"], "n_neighbors": k, "acc": acc,
                              "time_s": secs, "n_iter": int(m.n_iter_), "unreached": zero}), flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": "sklearn", "data": name, "n": len(truth), "maxrss_mb": round(rss, 1)}))


def knn(path, n, k):
    from sklearn.neighbors import NearestNeighbors
    X, _ = load(path, n)
    t0 = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    nn.kneighbors_graph(nn._fit_X, k + 1, mode="connectivity")
    print(json.dumps({"side": "sklearn", "what": "knn", "n": len(X), "dim": X.shape[1], "k": k,
                      "build_s": round(time.perf_counter() - t0, 3)}))


def summarize(path):
    runs = defaultdict(list)
    knns, rss, env = [], {}, {}
    for line in open(path, encoding="utf-8"):
        o = json.loads(line)
        if "machine" in o or "sklearn" in o:
            env.update(o)
        elif o.get("what") == "knn":
            knns.append(o)
        elif "maxrss_mb" in o:
            rss[(o["side"], o["data"])] = o["maxrss_mb"]
        else:
            side = o["side"] if o["side"] == "sklearn" else "ours-" + o["metric"]
            runs[(o["data"], o["frac"], o["n_neighbors"], side)].append(o)
    if env:
        print("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()) + "\n")
    print("| data | labelled | n_neighbors | sklearn acc | ours acc (euclidean) | ours acc (cosine) "
          "| unreached (sklearn / ours eucl.) | sklearn s | ours s (euclidean: graph + spread) | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({k[:3] for k in runs}, key=lambda k: (k[0], k[1], k[2]))
    for data, frac, k in keys:
        def acc(side):
            r = runs.get((data, frac, k, side))
            return f"{np.mean([x['acc'] for x in r]):.4f}" if r else "-"

        def secs(side):
            r = runs.get((data, frac, k, side))
            return float(np.median([x["time_s"] for x in r])) if r else float("nan")
        sk, ours = secs("sklearn"), secs("ours-euclidean")
        o = runs.get((data, frac, k, "ours-euclidean"), [])
        detail = f"{ours:.3f} ({np.median([x['knn_s'] for x in o]):.3f} + " \
                 f"{np.median([x['spread_s'] for x in o]):.3f})" if o else "-"
        def unreached(side):
            r = runs.get((data, frac, k, side))
            return f"{np.mean([x.get('unreached', 0) for x in r]):.0f}" if r else "-"
        print(f"| {data} | {frac:.0%} | {k} | {acc('sklearn')} | {acc('ours-euclidean')} | "
              f"{acc('ours-cosine')} | {unreached('sklearn')} / {unreached('ours-euclidean')} | "
              f"{sk:.3f} | {detail} | {sk / ours:.1f}x |")
    if rss:
        print("\nPeak resident memory (whole process, data loading included): " +
              ", ".join(f"{s} {d} {v:.0f} MB" for (s, d), v in sorted(rss.items())))
    if knns:
        print("\n| kNN graph | n | dim | k | build s (median) | builds | update, 100 new points, s |")
        print("|---|---|---|---|---|---|---|")
        groups = defaultdict(list)
        for o in knns:
            groups[(o["side"], o["n"], o["dim"], o["k"])].append(o)
        for (side, n, dim, k), g in sorted(groups.items(), key=lambda x: (x[0][1], x[0][0])):
            upd = [o["update100_s"] for o in g if "update100_s" in o]
            print(f"| {side} | {n:,} | {dim} | {k} | {np.median([o['build_s'] for o in g]):.2f} | "
                  f"{len(g)} | {f'{np.median(upd):.3f}' if upd else '-'} |")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "splits" and len(argv) == 8:
        splits(argv[2], argv[3], int(argv[4]), argv[5], argv[6], argv[7])
    elif cmd == "spread" and len(argv) >= 7:
        spread(argv[2], argv[3], int(argv[4]), argv[5], argv[6:])
    elif cmd == "knn" and len(argv) == 5:
        knn(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "summarize" and len(argv) == 3:
        summarize(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
