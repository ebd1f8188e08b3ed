#!/usr/bin/env bash
# Prepares a machine for the partition-fault suite (jepsen/): the `ip` (iproute2) and `iptables`
# commands the harness runs to build network namespaces, veth pairs, a bridge and partitions,
# libfaketime (Debian's `faketime`) for the clock nemesis,
# and matplotlib (jepsen/requirements.txt) in the repository's .venv (made by scripts/setup.sh)
# for the latency plot. Idempotent and quiet: prints nothing and does nothing when everything
# is present; apt's output is shown only if the install fails. Needs root (the suite does too).
# The harness itself uses only the standard library: without matplotlib a run is checked but
# not plotted.
set -euo pipefail
cd "$(dirname "$0")/.."

python_requirements() {
  [[ -x .venv/bin/python ]] || return 0
  local stamp=.venv/.installed-jepsen-requirements.sha256 want
  want=$(sha256sum jepsen/requirements.txt | cut -d' ' -f1)
  if [[ -f ${stamp} && $(cat "${stamp}") == "${want}" ]]; then
    return 0
  fi
  if .venv/bin/python -m pip install -q --disable-pip-version-check -r jepsen/requirements.txt; then
    echo "${want}" >"${stamp}"
  else
    echo "jepsen/setup.sh: matplotlib not installed; runs will not be plotted" >&2
  fi
}

system_packages() {
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  # The clock nemesis preloads libfaketime into the nodes (jepsen/perdure_jepsen/clock.py);
  # Debian's `faketime` pulls the library in.
  compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || missing+=(faketime)
  # The lazyfs nemesis mounts crates/perdure-lazyfs with mount(2) as root (no libfuse, no
  # fusermount3; /dev/fuse is the kernel's) and unmounts leftovers with util-linux's `umount`.
  command -v umount >/dev/null 2>&1 || missing+=(mount)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "jepsen/setup.sh: installing ${missing[*]}"
  local log
  log=$(mktemp)
  if ! { ${sudo} apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"; } >"${log}" 2>&1; then
    cat "${log}" >&2
    rm -f "${log}"
    echo "jepsen/setup.sh: installing ${missing[*]} failed" >&2
    return 1
  fi
  rm -f "${log}"
  if ! command -v ip >/dev/null || ! command -v iptables >/dev/null; then
    echo "jepsen/setup.sh: ip or iptables still missing after the install" >&2
    return 1
  fi
  if ! compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null; then
    echo "jepsen/setup.sh: libfaketime still missing after the install" >&2
    return 1
  fi
}

system_packages
python_requirements
