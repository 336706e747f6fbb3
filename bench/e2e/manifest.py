#!/usr/bin/python3
"""manifest.py: the benchmark's manifest, derived from bench/data/out/spam.yaml.

    manifest.py SPAM_YAML > e2e.yaml

Keeps everything in spam.yaml but its model section, which becomes a linear
model (2^18 hash buckets, unigrams and bigrams) that is trained only when
asked (min_train out of reach, no retrain_after, no timer) and that does not
re-annotate, so the measured labels are exactly the first labels of the
measured items. spam.yaml's max_message_bytes (64 MiB) already fits a batch
of 256 of the longest emails.
"""
import re
import sys

MODEL = """model:
  type: linear
  hash_bits: 18
  ngram_max: 2
  char_ngrams: 0
  calibrate: true
  validation_fraction: 0.2
  min_train: 1000000000     # no cold start: the benchmark orders the retrain
  retrain_after: 0
  retrain_interval_s: 0
  publish_tolerance: 1      # publish the first model whatever its accuracy
  reannotate: false

"""


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: manifest.py SPAM_YAML")
    text = open(sys.argv[1], encoding="utf-8").read()
    # the model section: from "model:" at column 0 to the next top-level key
    out, n = re.subn(r"(?ms)^model:\n(?:[ #].*?\n|\n)*", MODEL, text)
    if n != 1:
        sys.exit("manifest.py: no single top-level model section in " + sys.argv[1])
    m = re.search(r"(?m)^  max_message_bytes: *(\d+)", out)
    if not m or int(m.group(1)) < 64 << 20:
        sys.exit("manifest.py: coordinator.max_message_bytes below 64 MiB in " + sys.argv[1])
    sys.stdout.write(out)


if __name__ == "__main__":
    main()
