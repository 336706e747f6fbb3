#!/bin/sh
# Installs the Debian 12 packages annotate needs to build, test and run.
# Idempotent: installs only what is missing, and runs apt-get update only
# when something is. Needs root (or sudo).
set -eu

PKGS="build-essential cmake pkg-config git ca-certificates
libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
libzmq3-dev libczmq-dev liblmdb-dev lmdb-utils libyaml-dev
libjansson-dev libxxhash-dev libutf8proc-dev libcmocka-dev liblinear-dev libopenblas-dev
python3 python3-grpcio python3-grpc-tools python3-lmdb python3-sklearn
valgrind iproute2 procps jq"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
