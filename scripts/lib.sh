# Shared by the scripts in this folder: plain-words progress, the Python tool venv, free ports,
# and background processes that are always stopped (each in its own process group).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
LOGS="$ROOT/.local/logs"
mkdir -p "$LOGS"

say() { printf 'groupgate: %s\n' "$*"; }
fail() {
  printf 'groupgate: FAILED: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf 'groupgate: last lines of %s:\n' "$2" >&2
    tail -n 25 "$2" | sed 's/^/    /' >&2
  fi
  exit 1
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

# Runs the operator's tool: $GROUPGATE when set (the deploy job's prebuilt binary), else the
# debug build, built first when missing.
groupgate() {
  if [ -n "${GROUPGATE:-}" ]; then
    "$GROUPGATE" "$@"
    return
  fi
  if [ ! -x "$ROOT/target/debug/groupgate" ]; then
    cargo build --quiet -p deploy >"$LOGS/build-deploy.log" 2>&1 || fail "cargo build -p deploy" "$LOGS/build-deploy.log"
  fi
  "$ROOT/target/debug/groupgate" "$@"
}

# Prints an access token for USER, from the stack description FILE: Cognito's admin flow on the
# stack's operator client (the public client has no password flow). The password comes from the
# file's users, or from GROUPGATE_PASSWORD: stack_token FILE USER
stack_token() {
  groupgate token --stack-file "$1" --user "$2"
}

# Reads FIELD (a Python expression over `s`, the parsed JSON) from a JSON file: json_get FILE EXPR
json_get() {
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"s": s})
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
