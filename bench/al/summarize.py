#!/usr/bin/python3
"""Tables (mean ± sd over seeds) from the JSON lines of bench_al and
sklearn_al.py (bench/al/run.sh pipes them here).

    summarize.py RESULTS.jsonl...

Definitions are in bench/al/README.md. In short, per (data, side,
strategy) and seed:
  labels95   labels (cold start + picks, V not counted) of the first round
             whose test accuracy >= 0.95 x the seed's full-supervision
             accuracy; a seed that never gets there within the budget is
             counted at the budget and marked with ">".
  share      per rule ("fixed", "dataset"), the smallest share of the pool
             people label (labels + V + items not auto-accepted) over the
             rounds whose whole pool, human + auto-accepted, measures
             >= 0.95 against gold; beside it that round's auto-accepted
             accuracy measured and as claimed (point, lower bound).
  oracle     (ours only) the smallest share over the rounds if the
             auto-accepted errors were counted from gold: open items by
             confidence, as many as keep them within 5% of the pool; a floor
             for any rule that ranks by the model's confidence.
  no-gold    the same rule, but the round chosen without gold: the smallest
             share among rounds whose claimed lower bound for the whole pool
             is >= 0.95; reported with its measured whole-pool accuracy.
"""
import collections
import json
import math
import sys

TARGET = 0.95


def ms(xs, fmt="{:.4f}"):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return (fmt + " ± " + fmt).format(m, sd)


def claimed_whole(r, rule):
    s = r[rule]
    n_h = r["n_pool"] - s["n_auto"]
    return (n_h + s["claim_lo"] * s["n_auto"]) / r["n_pool"]


def main():
    rows = [json.loads(line) for path in sys.argv[1:] for line in open(path) if line.startswith("{")]
    full = collections.defaultdict(dict)           # (data, side) -> seed -> acc
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        if r.get("what") == "full":
            full[(r["data"], r["side"])][r["seed"]] = r["acc"]
        elif r.get("what") == "round":
            runs[(r["data"], r["side"], r["strategy"])][r["seed"]].append(r)
    datas = list(dict.fromkeys(k[0] for k in runs))
    for d in datas:
        keys = [k for k in runs if k[0] == d]
        keys.sort(key=lambda k: (k[1] != "c", k[2]))
        print(f"### {d}\n")
        for side in ("c", "sklearn"):
            if full.get((d, side)):
                print(f"Full supervision ({side}, {len(full[(d, side)])} seeds): test accuracy "
                      f"{ms(full[(d, side)].values())}")
        print()
        learning_curve(d, keys, runs)
        labels95(d, keys, runs, full)
        shares(d, keys, runs)


def name(k):
    return ("ours " if k[1] == "c" else "sklearn ") + k[2]


def learning_curve(d, keys, runs):
    counts = sorted({r["labels"] for k in keys for seed in runs[k].values() for r in seed})
    step = max(1, len(counts) // 10)
    pick = counts[::step] + ([counts[-1]] if (len(counts) - 1) % step else [])
    print("Learning curve, test accuracy by human labels (V not counted):\n")
    print("| labels | " + " | ".join(name(k) for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    for n in pick:
        cells = []
        for k in keys:
            cells.append(ms([r["acc"] for seed in runs[k].values() for r in seed if r["labels"] == n]))
        print(f"| {n} | " + " | ".join(cells) + " |")
    print()


def labels95(d, keys, runs, full):
    print("Labels to reach 95% of full-supervision accuracy:\n")
    print("| strategy | labels | seeds reaching it | full accuracy |")
    print("|---|---|---|---|")
    for k in keys:
        fa = full.get((d, k[1]), {})
        vals, reached = [], 0
        for seed, rs in runs[k].items():
            goal = TARGET * fa.get(seed, float("nan"))
            hit = next((r["labels"] for r in rs if r["acc"] >= goal), None)
            reached += hit is not None
            vals.append(hit if hit is not None else max(r["labels"] for r in rs))
        mark = "" if reached == len(vals) else ">"
        print(f"| {name(k)} | {mark}{ms(vals, '{:.0f}')} | {reached}/{len(vals)} | {ms(fa.values())} |")
    print()


def best_round(rs, rule, gold):
    ok = [r for r in rs if (r[rule]["whole"] if gold else claimed_whole(r, rule)) >= TARGET]
    return min(ok, key=lambda r: (r[rule]["share"], r["labels"])) if ok else None


def shares(d, keys, runs):
    print("Share of the pool people label so that the whole pool measures >= 95% (min over rounds):\n")
    print("| strategy | rule | share | labels + V at that round | auto part measured | claimed | "
          "claimed lower | measured >= lower (seeds; all rounds) | no-gold pick: share, whole measured | "
          "oracle floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        floors = [min(r["oracle_share"] for r in rs) for rs in runs[k].values() if "oracle_share" in rs[0]]
        oracle = ms(floors) if floors else "–"
        for rule in ("fixed", "dataset", "dataset_pc"):
            picks = [best_round(rs, rule, True) for rs in runs[k].values()]
            free = [best_round(rs, rule, False) for rs in runs[k].values()]
            picks_ok = [p for p in picks if p]
            held = sum(1 for p in picks_ok if p[rule]["n_auto"] == 0
                       or p[rule]["auto_acc"] >= p[rule]["claim_lo"])
            all_r = [r for rs in runs[k].values() for r in rs if r[rule]["n_auto"] > 0]
            all_held = sum(1 for r in all_r if r[rule]["auto_acc"] >= r[rule]["claim_lo"])
            print(f"| {name(k)} | {rule} | {ms([p[rule]['share'] for p in picks_ok])} "
                  f"| {ms([p['labels'] + p['n_valid'] for p in picks_ok], '{:.0f}')} "
                  f"| {ms([p[rule]['auto_acc'] for p in picks_ok])} "
                  f"| {ms([p[rule]['claim'] for p in picks_ok])} "
                  f"| {ms([p[rule]['claim_lo'] for p in picks_ok])} "
                  f"| {held}/{len(picks_ok)}; {all_held}/{len(all_r)} "
                  f"| {ms([p[rule]['share'] for p in free if p])}, "
                  f"{ms([p[rule]['whole'] for p in free if p])} | {oracle} |")
    print()


if __name__ == "__main__":
    main()
