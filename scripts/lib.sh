# Shared helpers for scripts/*.sh: sourced, never run.
# Owns: the timed-phase wrapper. Must never: change directory or set shell options for the caller.

PHASE_TIMES=()

# phase NAME CMD...: runs CMD, prints how long it took, and returns CMD's exit status
# (also under `set -e`, so the time is printed for a failing phase too).
phase() {
  local name=$1 start elapsed rc=0
  shift
  echo "==> ${name}"
  start=$(date +%s.%N)
  "$@" || rc=$?
  elapsed=$(awk -v s="${start}" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  echo "==> ${name}: ${elapsed}s (exit ${rc})"
  PHASE_TIMES+=("$(printf '%-34s %8ss  exit %d' "${name}" "${elapsed}" "${rc}")")
  return "${rc}"
}

# phase_summary: every phase's time so far, for the end of a run.
phase_summary() {
  local line
  echo "==> timing per phase"
  for line in "${PHASE_TIMES[@]}"; do
    echo "    ${line}"
  done
}
