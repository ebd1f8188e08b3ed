#!/usr/bin/env bash
# One loadgen run against a 3-node perdure cluster (deploy/local-cluster.sh, release build, all
# on this machine) and Temporal's dev server, with the ratios. Server CPU per workflow is summed
# over the cluster's three node processes. The SDK worker and client talk to node 1; calls that
# node 2 or 3 own are forwarded, as they would be behind a plain load balancer.
#
#   benches/cluster-vs-temporal.sh [loadgen flags, e.g. -n 100 -m 1000 -c 50]
#
# PERDURE_BENCH_BASE_PORT (default 17233) moves the cluster's ports; the cluster lives in a
# temporary directory and is stopped on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
export ROCKSDB_LIB_DIR=${ROCKSDB_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
base=${PERDURE_BENCH_BASE_PORT:-17233}

cargo build --release -p perdure-server -p perdure-bench
dir=$(mktemp -d /tmp/perdure-bench-cluster.XXXXXX)
stop() {
  PERDURE_BIN=target/release/perdure deploy/local-cluster.sh stop --data-dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
PERDURE_BIN=target/release/perdure deploy/local-cluster.sh start --nodes 3 --base-port "$base" --data-dir "$dir"
pids=$(cat "$dir"/node-*/perdure.pid | paste -sd, -)
target/release/loadgen --target temporal --address "127.0.0.1:${base}" --address-pids "$pids" "$@"
