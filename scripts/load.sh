#!/usr/bin/env bash
# Load test of the local stack on release builds: the local gateway, with the authorizer and the
# backend behind it under `cargo lambda watch --release`, driven by wrk over many distinct valid
# tokens. Each run sends one route with the tokens of every user the access matrix
# (`groupgate simulate`) gives one status on it, and counts any other status as a wrong answer.
#
# It runs twice: with the authorizer TTL of deploy/groupgate.toml (API Gateway's cache answers
# repeat tokens) and with TTL 0 (every request reaches the authorizer). Per run it reports req/s,
# p50/p99 latency, transport errors, wrong answers, and the resident memory (RSS, KiB, summed
# over each function's instances) of the authorizer, the backend and the gateway before and
# after, with the growth per request. It fails on any wrong answer or error, on a gateway that
# grows, or on a function growing by more than 1 KiB per request. Functions run as classic
# Lambda does, one invocation per process, where lambda_runtime keeps about 150 B per invocation
# (README, "Memory"); `cargo bench -p authorizer --bench memory` holds the authorizer's own
# per-invocation memory flat.
#
#   scripts/load.sh [SECONDS]      each run's length (default 60); the data route runs a third
#
# Environment:
#   LOAD_CONNECTIONS=32            concurrent connections;
#   LOAD_TOKENS=40                 distinct tokens per run;
#   LOAD_INSTANCES=4               instances per function (cargo lambda watch --concurrency).
# Not part of scripts/test.sh: the first release build alone takes several minutes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SECONDS_PER_RUN=${1:-60}
CONNECTIONS=${LOAD_CONNECTIONS:-32}
TOKENS=${LOAD_TOKENS:-40}
INSTANCES=${LOAD_INSTANCES:-4}
STACK_FILE="$ROOT/.local/stack.json"
RESULTS="$ROOT/.local/load-results.txt"
WORK=$(mktemp -d)
# The running stack's description (`groupgate describe`), once it is up.
DESCRIPTION="$WORK/stack.json"
DEV_PID=""

cleanup() {
  [ -n "$DEV_PID" ] && kill -TERM "$DEV_PID" 2>/dev/null && wait "$DEV_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'say "stopping"; exit 1' INT TERM

command -v wrk >/dev/null || apt_install wrk "to generate the load"
ensure_venv
# The tool dev.sh builds on release builds, for tokens and the access matrix.
export GROUPGATE="$ROOT/target/tool/groupgate"

# Starts scripts/dev.sh on release builds with TTL $1 ("" for the configured one) and waits for it.
start_stack() {
  rm -f "$STACK_FILE"
  local log="$LOGS/load-dev.log"
  say "starting the local stack on release builds (TTL ${1:-as configured}; log: .local/logs/load-dev.log)"
  GROUPGATE_RELEASE=1 GROUPGATE_INSTANCES="$INSTANCES" GROUPGATE_AUTHORIZER_TTL="$1" \
    setsid bash "$ROOT/scripts/dev.sh" >"$log" 2>&1 &
  DEV_PID=$!
  local waited=0
  until [ -f "$STACK_FILE" ]; do
    kill -0 "$DEV_PID" 2>/dev/null || fail "scripts/dev.sh exited before the stack was ready" "$log"
    [ "$waited" -lt 1800 ] || fail "the stack was not ready within 30 minutes" "$log"
    sleep 2
    waited=$((waited + 2))
  done
  describe_stack "$DESCRIPTION"
}

stop_stack() {
  kill -TERM "$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
  DEV_PID=""
}

# Sums an awk program's number over /proc/PID/FILE of the processes whose command lines match
# PATTERN: proc_sum PATTERN FILE PROGRAM
proc_sum() {
  local pid value total=0
  for pid in $(pgrep -f "$1"); do
    # A process may end between pgrep and the read: it then counts for nothing.
    value=$(awk "$3" "/proc/$pid/$2" 2>/dev/null) || continue
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

# Resident memory in KiB, and CPU time in clock ticks (utime + stime), of the processes whose
# command lines match $1, summed.
# shellcheck disable=SC2016 # awk programs, for awk to expand
rss_of() { proc_sum "$1" status '/^VmRSS:/ {print $2}'; }
# shellcheck disable=SC2016
cpu_of() { proc_sum "$1" stat '{print $14 + $15}'; }

# Where the CPU goes: each part of the path, so that a run shows what bounds it.
cpu_all() {
  printf 'authorizer=%s backend=%s gateway=%s cargo_lambda=%s moto=%s' \
    "$(cpu_of 'release/authorizer$')" "$(cpu_of 'release/backend$')" \
    "$(cpu_of 'groupgate local gateway')" "$(cpu_of 'cargo-lambda lambda watch')" "$(cpu_of 'moto_server')"
}

rss_all() {
  printf 'authorizer=%s backend=%s gateway=%s' "$(rss_of 'release/authorizer$')" \
    "$(rss_of 'release/backend$')" "$(rss_of 'groupgate local gateway')"
}

# Writes $TOKENS distinct tokens, spread over the users whose group gets STATUS on GET PATH in
# the access matrix, to a file, and prints its name: tokens_for PATH STATUS
tokens_for() {
  local path=$1 status=$2 out=$WORK/tokens-${1//\//_}-$2 users
  groupgate simulate --format tsv --environment local >"$WORK/matrix.tsv"
  users=$(python3 - "$WORK/matrix.tsv" "$DESCRIPTION" "$path" "$status" <<'PY'
import csv, json, sys
matrix, stack, path, status = sys.argv[1:]
groups = {r["group"] for r in csv.DictReader(open(matrix), delimiter="\t")
          if r["method"] == "GET" and r["path"] == path and r["status"] == status}
for user in json.load(open(stack))["local"]["users"]:
    group = user["groups"][0] if user["groups"] else "(no group)"
    if len(user["groups"]) <= 1 and group in groups:
        print(user["username"])
PY
  )
  [ -n "$users" ] || fail "no user gets $status on GET $path in the access matrix"
  : >"$out"
  local i=0
  while [ "$i" -lt "$TOKENS" ]; do
    for user in $users; do
      [ "$i" -lt "$TOKENS" ] || break
      stack_token "$DESCRIPTION" "$user" >>"$out" || fail "could not get a token for $user"
      i=$((i + 1))
    done
  done
  [ "$(sort -u "$out" | wc -l)" -eq "$TOKENS" ] || fail "the $TOKENS tokens for $path are not distinct"
  echo "$out"
}

# One wrk run: run NAME PATH STATUS SECONDS TTL
run() {
  local name=$1 path=$2 status=$3 seconds=$4 ttl=$5 tokens api before after result cpu_before cpu_after
  tokens=$(tokens_for "$path" "$status")
  api=$(json_get "$DESCRIPTION" api_url)
  # A short warm-up, so that "before" is the memory of a warm process, not of an idle one.
  wrk -t2 -c"$CONNECTIONS" -d3s -s "$ROOT/scripts/load/check.lua" "$api" -- "/prod$path" "$status" "$tokens" >/dev/null
  before=$(rss_all)
  cpu_before=$(cpu_all)
  say "$name: GET $path, expecting $status, ${seconds}s, $CONNECTIONS connections, $TOKENS tokens"
  result=$(wrk -t2 -c"$CONNECTIONS" -d"${seconds}s" --latency -s "$ROOT/scripts/load/check.lua" \
    "$api" -- "/prod$path" "$status" "$tokens" | grep '^RESULT') || fail "wrk failed on $path"
  after=$(rss_all)
  cpu_after=$(cpu_all)
  local line="ttl=$ttl run=$name ${result#RESULT } rss_before_kib[$before] rss_after_kib[$after]"
  line+=" cpu_ticks_before[$cpu_before] cpu_ticks_after[$cpu_after]"
  echo "$line" | tee -a "$RESULTS"
  python3 - "$line" <<'PY' || fail "$name: wrong answers, errors or growing memory (above)"
import re, sys
line = sys.argv[1]
field = lambda k: int(re.search(rf"\b{k}=(\d+)", line).group(1))
problems = []
if field("wrong"): problems.append(f"{field('wrong')} wrong answers")
if field("errors"): problems.append(f"{field('errors')} transport errors")
before = dict(re.findall(r"(\w+)=(\d+)", re.search(r"rss_before_kib\[(.*?)\]", line).group(1)))
after = dict(re.findall(r"(\w+)=(\d+)", re.search(r"rss_after_kib\[(.*?)\]", line).group(1)))
growth = []
for proc, kib in before.items():
    grown = int(after.get(proc, kib)) - int(kib)
    per_request = grown * 1024 / max(field("requests"), 1)
    growth.append(f"{proc} {grown:+d} KiB ({per_request:.0f} B/request)")
    # The gateway is ours alone: flat within its allocator's settling. A function carries the
    # runtime's ~150 B per invocation; 1 KiB per request is a leak of ours (a token, an event).
    if (proc == "gateway" and grown > 4096) or per_request > 1024:
        problems.append(f"{proc} grew by {grown} KiB")
print("groupgate: memory growth: " + ", ".join(growth))
ticks = lambda k: dict(re.findall(r"(\w+)=(\d+)", re.search(rf"{k}\[(.*?)\]", line).group(1)))
cpu_before, cpu_after = ticks("cpu_ticks_before"), ticks("cpu_ticks_after")
hz = int(__import__("os").sysconf("SC_CLK_TCK"))
print("groupgate: CPU per request: " + ", ".join(
    f"{p} {(int(cpu_after[p]) - int(v)) * 1e6 / hz / max(field('requests'), 1):.0f} us"
    for p, v in cpu_before.items()))
if problems:
    print("groupgate: " + "; ".join(problems))
    sys.exit(1)
PY
}

: >"$RESULTS"
for ttl in "" 0; do
  start_stack "$ttl"
  run status /petstore/v2/status 200 "$SECONDS_PER_RUN" "${ttl:-default}"
  run denied /petstore/v2/pets 403 "$SECONDS_PER_RUN" "${ttl:-default}"
  # Every call reads moto's DynamoDB: bounded by the emulator, reported apart.
  run data /petstore/v1/pets 200 $((SECONDS_PER_RUN / 3)) "${ttl:-default}"
  stop_stack
done
say "done; results in .local/load-results.txt"
cat "$RESULTS"
