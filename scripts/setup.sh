#!/usr/bin/env bash
# Prepares a machine to build and test Perdure. Idempotent: a second run does nothing slow.
#  - Debian packages: librocksdb-dev (we link the system RocksDB) and libclang-dev (bindgen for
#    librocksdb-sys). Protobuf needs no protoc: temporalio-protos uses a vendored compiler.
#  - Python venv at .venv with tests/python/requirements.txt (the Python SDK, pytest, and the
#    `temporal` CLI, which also provides Temporal's dev server for side-by-side runs).
#  - Node deps of tests/ts (the TypeScript SDK client and worker) with `npm ci` from the lock file;
#    Debian's nodejs/npm if node or npm is missing.
#  - The Web UI: ui/build from ui/package-lock.json (`npm ci` + `npm run build`), skipped while the
#    lock file and the app's sources are those of the last build; Debian's chromium for the
#    browser test (tests/python/test_web_ui.py).
set -euo pipefail
# Note: phase() runs each step as `step || rc=$?`, which suspends `set -e` inside it, so every
# step below returns on its own first failure.
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_packages() {
  local missing=() pkg
  for pkg in librocksdb-dev libclang-dev chromium; do
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

# Installs tests/ts/node_modules from its lock file unless the same lock file was installed before
# (the stamp lives inside node_modules, so deleting node_modules reinstalls).
node_modules() {
  local dir=tests/ts stamp want
  node_present || return
  stamp="${dir}/node_modules/.installed-package-lock.sha256"
  want=$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)
  if [[ -f ${stamp} && $(cat "${stamp}") == "${want}" ]]; then
    echo "${dir}/package-lock.json: already installed"
    return 0
  fi
  # No install scripts: nothing in the tree needs them (the SDK's native core bridge and swc ship
  # prebuilt binaries), and npm 11 warns about every package that has one.
  (cd "${dir}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || return
  echo "${want}" >"${stamp}"
}

# Node and npm (Debian's when missing), new enough for the TypeScript SDK and the UI build.
node_present() {
  local major minor
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm || return
  fi
  # @temporalio/* 1.24 needs Node >= 20.3 (Debian 12's own nodejs is 18: use NodeSource's).
  IFS=. read -r major minor _ <<<"$(node --version | tr -d v)"
  if ((major < 20 || (major == 20 && minor < 3))); then
    echo "node $(node --version) is too old for the TypeScript SDK test (needs >= 20.3)" >&2
    return 1
  fi
}

# Builds the Web UI into ui/build (served by perdure on its HTTP port) unless the stamp in
# ui/build says it was built from the same lock file and sources. The stamp is a dotfile, which
# perdure never serves.
web_ui() {
  local stamp=ui/build/.built-from.sha256 want
  want=$(cd ui && find package.json package-lock.json .env ./*.config.js src -type f \
    -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1) || return
  if [[ -f ui/build/index.html && -f ${stamp} && $(cat "${stamp}") == "${want}" ]]; then
    echo "ui/build: up to date"
    return 0
  fi
  node_present || return
  # No install scripts: esbuild finds its platform binary through its optional dependency.
  (cd ui && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || return
  (cd ui && npm run build --silent) || return
  echo "${want}" >"${stamp}"
}

phase "setup: system packages" apt_packages
phase "setup: python venv" python_venv
phase "setup: node modules (tests/ts)" node_modules
phase "setup: web ui (ui/build)" web_ui
