#!/usr/bin/env bash
# Prepares a machine to build and test Perdure. Idempotent: a second run does nothing slow.
#  - Debian packages: librocksdb-dev (we link the system RocksDB) and libclang-dev (bindgen for
#    librocksdb-sys). Protobuf needs no protoc: temporalio-protos uses a vendored compiler.
#  - Python venv at .venv with tests/python/requirements.txt (the Python SDK, pytest, and the
#    `temporal` CLI, which also provides Temporal's dev server for side-by-side runs).
set -euo pipefail
# Note: phase() runs each step as `step || rc=$?`, which suspends `set -e` inside it, so every
# step below returns on its own first failure.
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_packages() {
  local missing=() pkg
  for pkg in librocksdb-dev libclang-dev; do
    if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("${pkg}")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "system packages present"
    return 0
  fi
  apt_install "${missing[@]}"
}

apt_install() {
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "installing: $*"
  ${sudo} apt-get update -q || return
  DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -q --no-install-recommends "$@"
}

# Installs a requirements file into .venv unless the same file was installed before.
pip_requirements() {
  local file=$1 stamp want
  stamp=".venv/.installed-$(basename "${file}").sha256"
  want=$(sha256sum "${file}" | cut -d' ' -f1)
  if [[ -f ${stamp} && $(cat "${stamp}") == "${want}" ]]; then
    echo "${file}: already installed"
    return 0
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "${file}" || return
  echo "${want}" >"${stamp}"
}

python_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    # Debian's own python3 keeps venv/ensurepip in a separate package.
    if ! python3 -m venv .venv; then
      rm -rf .venv
      apt_install python3-venv || return
      python3 -m venv .venv || return
    fi
  fi
  pip_requirements tests/python/requirements.txt
}

phase "setup: system packages" apt_packages
phase "setup: python venv" python_venv
