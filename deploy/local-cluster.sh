#!/usr/bin/env bash
# Runs an N-node Perdure cluster on 127.0.0.1 as background processes, for development and
# manual fault testing. Owns the local cluster's ports, directories, secret and process lifetime;
# the nodes themselves are plain `perdure start` processes (see deploy/README.md).
#
#   deploy/local-cluster.sh start|stop|status [--nodes N] [--base-port P] [--data-dir DIR] [--release]
#                           [--json (status only)]
#
# Port scheme, node i = 1..N with N <= 10 (never collides: three disjoint ranges):
#   API (Temporal gRPC)   P + i - 1          7233, 7234, 7235   (P = --base-port, default 7233)
#   HTTP (/health ...)    P + 10 + i - 1     7243, 7244, 7245
#   internal (Raft)       P + 100 + i - 1    7333, 7334, 7335
# Two clusters side by side need base ports at least 200 apart (e.g. 7233 and 8233).
#
# Layout of DIR (default ./perdure-cluster):
#   DIR/secret            cluster secret, generated once (mode 600), reused on every start
#   DIR/cluster.conf      nodes and base port of this DIR, so stop/status need no flags and a
#                         start with a different shape is refused instead of corrupting membership
#   DIR/node-i/           node i's --data-dir, plus node.log (appended) and perdure.pid
#
# `start` returns once every node's GET /health answers 200 and `temporal operator namespace
# describe -n default` answers on every node's API port; it is idempotent (running nodes are left
# alone). The secret reaches the nodes as PERDURE_CLUSTER_SECRET, never on a command line.
# Environment:
#   PERDURE_BIN              binary (default <repo>/target/debug/perdure, or target/release with --release)
#   LOCAL_CLUSTER_TIMEOUT    seconds `start` waits for readiness (default 60)
#   LOCAL_CLUSTER_STOP_GRACE seconds `stop` waits after SIGTERM before SIGKILL (default 20)
#   LOCAL_CLUSTER_TEMPORAL   temporal CLI for the namespace check (default: PATH, then
#                            <repo>/.venv/bin/temporal); "none" skips the check
#   PERDURE_* / RUST_LOG     reach every node unchanged (e.g. PERDURE_SHARDS=4 for a new cluster)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly MAX_NODES=10

usage() {
  cat <<EOF
usage: deploy/local-cluster.sh start|stop|status [options]

  start    start every node that is not running, then wait until all serve
  stop     SIGTERM every node (SIGKILL after LOCAL_CLUSTER_STOP_GRACE s), remove pid files
  status   show which nodes run, then \`perdure cluster status\` over all of them; exits 0
           when all run and answer, 1 when some do not, 3 when none runs
  help     this text

options:
  --nodes N        nodes, 1..${MAX_NODES} (default 3, or what DIR was created with); more
                   than 3 need PERDURE_REPLICATION=N (every node holds every shard for now)
  --base-port P    node i: API P+i-1, HTTP P+10+i-1, internal P+100+i-1 (default 7233)
  --data-dir DIR   state, logs, pid files and secret (default ./perdure-cluster)
  --release        use target/release/perdure instead of target/debug/perdure
  --json           status: \`perdure cluster status --json\` on stdout, node lines on stderr

environment: PERDURE_BIN, LOCAL_CLUSTER_TIMEOUT (60), LOCAL_CLUSTER_STOP_GRACE (20),
LOCAL_CLUSTER_TEMPORAL (temporal CLI; "none" skips the namespace check); every other
PERDURE_* variable reaches the nodes (e.g. PERDURE_SHARDS=4).
EOF
}

die() {
  echo "local-cluster: $*" >&2
  exit 1
}

usage_error() {
  echo "local-cluster: $*" >&2
  usage >&2
  exit 2
}

# ---- arguments ----------------------------------------------------------------------------

command=""
opt_nodes=""
opt_base_port=""
data_dir=./perdure-cluster
profile=debug
json=false

while (($#)); do
  arg=$1
  shift
  value=""
  case ${arg} in
    --*=*)
      value=${arg#*=}
      arg=${arg%%=*}
      ;;
    --nodes | --base-port | --data-dir)
      (($#)) || usage_error "${arg} needs a value"
      value=$1
      shift
      ;;
  esac
  case ${arg} in
    -h | --help | help)
      usage
      exit 0
      ;;
    --nodes) opt_nodes=${value} ;;
    --base-port) opt_base_port=${value} ;;
    --data-dir) data_dir=${value} ;;
    --release) profile=release ;;
    --json) json=true ;;
    start | stop | status)
      [[ -z ${command} ]] || usage_error "more than one command: ${command} ${arg}"
      command=${arg}
      ;;
    *) usage_error "unknown argument: ${arg}" ;;
  esac
done
[[ -n ${command} ]] || usage_error "no command given"
[[ -z ${opt_nodes} || ${opt_nodes} =~ ^[0-9]+$ ]] || usage_error "--nodes must be a number"
[[ -z ${opt_base_port} || ${opt_base_port} =~ ^[0-9]+$ ]] || usage_error "--base-port must be a number"
[[ -n ${data_dir} ]] || usage_error "--data-dir must not be empty"
# Absolute, so pid checks (which match the node's --data-dir argument) work from any directory.
absolute_data_dir() {
  if [[ -d ${data_dir} ]]; then data_dir=$(cd "${data_dir}" && pwd); fi
}
absolute_data_dir

# ---- cluster shape: flags, else DIR/cluster.conf, else defaults -----------------------------

conf_file() { echo "${data_dir}/cluster.conf"; }

# conf_value KEY: KEY's value in DIR/cluster.conf (read as data, never sourced), empty if absent.
conf_value() {
  local key value
  [[ -f $(conf_file) ]] || return 0
  while IFS='=' read -r key value; do
    if [[ ${key} == "$1" ]]; then
      echo "${value}"
      return 0
    fi
  done <"$(conf_file)"
}

saved_nodes=$(conf_value nodes)
saved_base_port=$(conf_value base_port)
nodes=${opt_nodes:-${saved_nodes:-3}}
base_port=${opt_base_port:-${saved_base_port:-7233}}
((nodes >= 1 && nodes <= MAX_NODES)) || usage_error "--nodes must be 1..${MAX_NODES}"
((base_port >= 1 && base_port + 100 + MAX_NODES - 1 <= 65535)) ||
  usage_error "--base-port must leave room for P+$((100 + MAX_NODES - 1)) <= 65535"
if [[ -n ${saved_nodes} && (${nodes} != "${saved_nodes}" || ${base_port} != "${saved_base_port}") ]]; then
  die "${data_dir} holds a cluster of ${saved_nodes} nodes on base port ${saved_base_port};" \
    "use those (or no flags) or another --data-dir"
fi

api_port() { echo $((base_port + $1 - 1)); }
http_port() { echo $((base_port + 10 + $1 - 1)); }
internal_port() { echo $((base_port + 100 + $1 - 1)); }
node_dir() { echo "${data_dir}/node-$1"; }
pid_file() { echo "$(node_dir "$1")/perdure.pid"; }
log_file() { echo "$(node_dir "$1")/node.log"; }

# The same initial membership for every node: 1=127.0.0.1:P+100,2=...
peers_list() {
  local i peers=""
  for ((i = 1; i <= nodes; i++)); do
    peers+="${peers:+,}${i}=127.0.0.1:$(internal_port "${i}")"
  done
  echo "${peers}"
}

http_addrs() {
  local i addrs=""
  for ((i = 1; i <= nodes; i++)); do
    addrs+="${addrs:+,}127.0.0.1:$(http_port "${i}")"
  done
  echo "${addrs}"
}

perdure_bin() {
  local bin=${PERDURE_BIN:-${REPO}/target/${profile}/perdure}
  if [[ ! -x ${bin} ]]; then
    local release_flag=""
    [[ ${profile} == release ]] && release_flag="--release "
    die "no perdure binary at ${bin}; build it with:" \
      "(cd ${REPO} && bash scripts/setup.sh && ROCKSDB_LIB_DIR=/usr/lib/x86_64-linux-gnu cargo build ${release_flag}-p perdure-server)" \
      "or point PERDURE_BIN at one"
  fi
  echo "${bin}"
}

# ---- processes --------------------------------------------------------------------------------

# node_pid I: prints node I's pid and succeeds if it is running. A pid file whose process is gone,
# is a zombie, or was reused by another program (its command line lacks this node's data dir)
# does not count.
node_pid() {
  local file pid
  file=$(pid_file "$1")
  [[ -f ${file} ]] || return 1
  pid=$(<"${file}")
  [[ ${pid} =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  if [[ -d /proc/${pid} ]]; then
    # Empty for a zombie; otherwise the node's argv, NUL-separated.
    tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qxF -- "$(node_dir "$1")" || return 1
  fi
  echo "${pid}"
}

running_count() {
  local i count=0
  for ((i = 1; i <= nodes; i++)); do
    if node_pid "${i}" >/dev/null; then count=$((count + 1)); fi
  done
  echo "${count}"
}

# port_taken PORT: something on 127.0.0.1 accepts connections on PORT.
port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Each node's last 40 log lines, without backtrace frames (RUST_BACKTRACE=1 would otherwise push
# the error itself out of the tail).
print_log_tails() {
  local i log
  for ((i = 1; i <= nodes; i++)); do
    log=$(log_file "${i}")
    echo "----- node ${i}: last 40 lines of ${log} (backtrace frames left out) -----" >&2
    if [[ -f ${log} ]]; then
      grep -vE '^ +([0-9]+: |at )' "${log}" | tail -n 40 >&2
    else
      echo "(no log)" >&2
    fi
  done
}

# ---- start ------------------------------------------------------------------------------------

ensure_secret() {
  local file=${data_dir}/secret
  if [[ ! -s ${file} ]]; then
    (
      umask 077
      od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"${file}"
    )
  fi
  chmod 600 "${file}"
}

ensure_conf() {
  [[ -f $(conf_file) ]] || printf 'nodes=%s\nbase_port=%s\n' "${nodes}" "${base_port}" >"$(conf_file)"
}

# start_node BIN I: launches node I in its own session (so a Ctrl-C on this script does not reach
# it) with output appended to its log, and records its pid.
start_node() {
  local bin=$1 i=$2 secret
  mkdir -p "$(node_dir "${i}")"
  secret=$(<"${data_dir}/secret")
  echo "=== $(date -u +%FT%TZ) local-cluster.sh: starting node ${i}" >>"$(log_file "${i}")"
  # setsid execs in place (a background job is no process-group leader), so $! is the node.
  PERDURE_CLUSTER_SECRET=${secret} setsid "${bin}" start \
    --node-id "${i}" \
    --api-addr "127.0.0.1:$(api_port "${i}")" \
    --internal-addr "127.0.0.1:$(internal_port "${i}")" \
    --http-addr "127.0.0.1:$(http_port "${i}")" \
    --data-dir "$(node_dir "${i}")" \
    --peers "$(peers_list)" \
    </dev/null >>"$(log_file "${i}")" 2>&1 &
  echo $! >"$(pid_file "${i}")"
  echo "node ${i}: started, pid $!"
}

temporal_cli() {
  local cli=${LOCAL_CLUSTER_TEMPORAL:-}
  if [[ -z ${cli} ]]; then
    cli=$(command -v temporal || true)
    [[ -n ${cli} || ! -x ${REPO}/.venv/bin/temporal ]] || cli=${REPO}/.venv/bin/temporal
  fi
  echo "${cli}"
}

# Readiness checks for wait_for. Each leaves what is still missing in `pending`.
pending=""

all_healthy() {
  local i code
  pending=""
  for ((i = 1; i <= nodes; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
      "http://127.0.0.1:$(http_port "${i}")/health" || true)
    [[ ${code} == 200 ]] || pending+=" node ${i} /health=${code:-none}"
  done
  [[ -z ${pending} ]]
}

all_describe_default() {
  local i out
  pending=""
  for ((i = 1; i <= nodes; i++)); do
    if ! out=$(timeout 10 "${temporal}" operator namespace describe \
      --address "127.0.0.1:$(api_port "${i}")" -n default 2>&1); then
      pending+=" node ${i}: $(tail -n 1 <<<"${out}")"
    fi
  done
  [[ -z ${pending} ]]
}

# wait_for WHAT CHECK: polls CHECK every 0.5 s until it succeeds; fails at `deadline` (set by
# cmd_start, shared by every wait of one start) or as soon as a node has exited.
wait_for() {
  local what=$1 check=$2 i
  echo "waiting for ${what} ..."
  until "${check}"; do
    for ((i = 1; i <= nodes; i++)); do
      node_pid "${i}" >/dev/null || {
        echo "local-cluster: node ${i} exited while waiting for ${what}" >&2
        return 1
      }
    done
    if ((SECONDS >= deadline)); then
      echo "local-cluster: timed out after ${timeout_s}s waiting for ${what}; still missing:${pending}" >&2
      return 1
    fi
    sleep 0.5
  done
}

cmd_start() {
  local bin i pid port to_start=()
  bin=$(perdure_bin)
  command -v curl >/dev/null || die "curl is needed to probe /health"
  mkdir -p "${data_dir}"
  absolute_data_dir
  # Every port of every node to start is checked before any node starts.
  for ((i = 1; i <= nodes; i++)); do
    if pid=$(node_pid "${i}"); then
      echo "node ${i}: already running, pid ${pid}"
      continue
    fi
    for port in "$(api_port "${i}")" "$(http_port "${i}")" "$(internal_port "${i}")"; do
      port_taken "${port}" && die "node ${i}: port ${port} is already in use by another process"
    done
    to_start+=("${i}")
  done
  ensure_conf
  ensure_secret
  for i in "${to_start[@]}"; do
    rm -f "$(pid_file "${i}")"
    start_node "${bin}" "${i}"
  done
  ((${#to_start[@]} > 0)) || echo "cluster already running (${nodes} nodes in ${data_dir})"

  timeout_s=${LOCAL_CLUSTER_TIMEOUT:-60}
  [[ ${timeout_s} =~ ^[0-9]+$ ]] || die "LOCAL_CLUSTER_TIMEOUT must be whole seconds"
  deadline=$((SECONDS + timeout_s))
  temporal=$(temporal_cli)
  if ! wait_for "GET /health = 200 on every node (a leader for every group)" all_healthy; then
    print_log_tails
    die "start failed; the nodes still running were left for inspection: deploy/local-cluster.sh stop --data-dir ${data_dir}"
  fi
  if [[ ${temporal} == none ]]; then
    echo "note: LOCAL_CLUSTER_TEMPORAL=none, namespace check skipped"
  elif [[ -z ${temporal} ]]; then
    echo "note: no temporal CLI on PATH or in ${REPO}/.venv/bin (bash scripts/setup.sh installs it);" \
      "namespace check skipped"
  elif ! wait_for "namespace default on every node's API port" all_describe_default; then
    print_log_tails
    die "start failed; the nodes still running were left for inspection: deploy/local-cluster.sh stop --data-dir ${data_dir}"
  fi

  echo "cluster of ${nodes} nodes serving (data in ${data_dir}):"
  for ((i = 1; i <= nodes; i++)); do
    echo "  node ${i}: pid $(node_pid "${i}")  api 127.0.0.1:$(api_port "${i}")" \
      " http 127.0.0.1:$(http_port "${i}")  internal 127.0.0.1:$(internal_port "${i}")"
  done
  echo "try: temporal workflow list --address 127.0.0.1:$(api_port 1)"
}

# ---- stop ---------------------------------------------------------------------------------------

# signal_node SIG PID: SIG to the node's process group (its own, from setsid), so anything the node
# started goes too; to the pid alone if that fails.
signal_node() {
  kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true
}

cmd_stop() {
  local i pid grace pids=()
  for ((i = 1; i <= nodes; i++)); do
    if pid=$(node_pid "${i}"); then
      signal_node TERM "${pid}"
      pids+=("${i}:${pid}")
      echo "node ${i}: SIGTERM sent to pid ${pid}"
    fi
  done
  if ((${#pids[@]} == 0)); then
    echo "not running (no live node in ${data_dir})"
  fi

  grace=${LOCAL_CLUSTER_STOP_GRACE:-20}
  [[ ${grace} =~ ^[0-9]+$ ]] || die "LOCAL_CLUSTER_STOP_GRACE must be whole seconds"
  local until=$((SECONDS + grace))
  while (($(running_count) > 0 && SECONDS < until)); do
    sleep 0.2
  done
  for ((i = 1; i <= nodes; i++)); do
    if pid=$(node_pid "${i}"); then
      echo "node ${i}: still alive after ${grace}s, SIGKILL pid ${pid}"
      signal_node KILL "${pid}"
    fi
    rm -f "$(pid_file "${i}")"
  done
  ((${#pids[@]} == 0)) || echo "stopped ${#pids[@]} node(s)"
}

# ---- status -------------------------------------------------------------------------------------

cmd_status() {
  local i pid alive=0 json_flag=()
  if ${json}; then
    json_flag=(--json)
    exec 3>&2 # node lines to stderr, so stdout is the JSON alone
  else
    exec 3>&1
  fi
  for ((i = 1; i <= nodes; i++)); do
    if pid=$(node_pid "${i}"); then
      echo "node ${i}: running, pid ${pid}, http 127.0.0.1:$(http_port "${i}")" >&3
      alive=$((alive + 1))
    elif [[ -f $(pid_file "${i}") ]]; then
      echo "node ${i}: not running (stale pid file $(pid_file "${i}"))" >&3
    else
      echo "node ${i}: not running" >&3
    fi
  done
  if ((alive == 0)); then
    echo "no node running in ${data_dir}" >&3
    exit 3
  fi
  local bin rc=0
  bin=$(perdure_bin)
  "${bin}" cluster status --http "$(http_addrs)" "${json_flag[@]}" || rc=$?
  ((rc != 0)) || ((alive == nodes)) || rc=1
  exit "${rc}"
}

case ${command} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
esac
