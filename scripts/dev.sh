#!/usr/bin/env bash
# Starts a single-node Perdure dev server on 127.0.0.1:7233 with its data in ./perdure-data.
# Extra arguments go to `perdure start-dev` (e.g. --port 7000 --data-dir /tmp/p).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

args=("$@")
has_flag() {
  local flag=$1 arg
  for arg in "${args[@]}"; do
    [[ ${arg} == "${flag}" || ${arg} == "${flag}="* ]] && return 0
  done
  return 1
}
has_flag --data-dir || args+=(--data-dir perdure-data)
has_flag --port || args+=(--port 7233)

export ROCKSDB_LIB_DIR=${ROCKSDB_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
exec cargo run -p perdure-server -- start-dev "${args[@]}"
