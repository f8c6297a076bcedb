#!/usr/bin/env bash
# A policy author's day, rehearsed: add a group to a copy of policies/, see the check that says
# the access matrix is stale and which command updates it, run that one command, and then every
# check and test suite that reads policies/, all on the copy (GROUPGATE_POLICIES and
# GROUPGATE_ACCESS point every command and test at it). Passes only when adding a valid group
# needs nothing but the documented update. scripts/test.sh runs it in its `toolbox` stage.
#
#   scripts/policy-author.sh            the rehearsal (needs .venv: scripts/test.sh makes it)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT
ensure_venv
export PATH="$VENV/bin:$PATH"

COPY="$ROOT/.local/policy-author"
rm -rf "$COPY"
mkdir -p "$COPY/policies"
cp "$ROOT"/policies/*.json "$COPY/policies/"
cp "$ROOT/deploy/access.json" "$COPY/access.json"
export GROUPGATE_POLICIES="$COPY/policies" GROUPGATE_ACCESS="$COPY/access.json"

say "adding group pet-groomer to a copy of policies/ ($COPY)"
cat >"$COPY/policies/pet-groomer.json" <<'JSON'
{
  "group": "pet-groomer",
  "precedence": 35,
  "description": "Groomers: read the v1 pets, nothing else.",
  "pets_table": "read",
  "policy": {
    "Version": "2012-10-17",
    "Statement": [
      {
        "Sid": "ReadPets",
        "Effect": "Allow",
        "Action": "execute-api:Invoke",
        "Resource": [
          "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets",
          "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets/*"
        ]
      }
    ]
  }
}
JSON

LOG="$LOGS/policy-author.log"
: >"$LOG"
say "groupgate validate: the new group is clean"
groupgate validate --strict >>"$LOG" 2>&1 || fail "groupgate validate --strict on the copy" "$LOG"

say "the stale access matrix is caught, and the check names the command that updates it"
status=0
groupgate simulate --expect "$GROUPGATE_ACCESS" >"$LOGS/policy-author-stale.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "simulate --expect should fail (exit 1) on a matrix without pet-groomer, got $status" "$LOGS/policy-author-stale.log"
grep -q 'groupgate simulate --expect FILE --update' "$LOGS/policy-author-stale.log" ||
  fail "the stale-matrix message does not name the update command" "$LOGS/policy-author-stale.log"

say "the documented update: groupgate simulate --expect FILE --update"
groupgate simulate --expect "$GROUPGATE_ACCESS" --update >>"$LOG" 2>&1 || fail "simulate --update" "$LOG"
groupgate simulate --expect "$GROUPGATE_ACCESS" >>"$LOG" 2>&1 || fail "simulate --expect after --update" "$LOG"
python3 - "$GROUPGATE_ACCESS" <<'PY' || fail "the updated matrix has no pet-groomer row" "$LOG"
import json, sys
assert "pet-groomer" in json.load(open(sys.argv[1]))["decisions"]
PY

say "the template with the new group: synth and cfn-lint"
groupgate synth --out "$COPY/synth" --placeholder-assets >>"$LOG" 2>&1 || fail "groupgate synth on the copy" "$LOG"
cfn-lint "$COPY/synth/template.json" >>"$LOG" 2>&1 || fail "cfn-lint on the template with pet-groomer" "$LOG"

say "every test suite that reads policies/, on the copy"
start_moto
cargo test --quiet -p groupgate-stack -p groupgate-cli \
  --test template --test aws_contracts --test iam --test toolbox --test moto_stack --test service_endpoints \
  >>"$LOG" 2>&1 || fail "a suite that reads policies/ failed with pet-groomer added" "$LOG"

say "policy author: a new group needed only the documented update (log: .local/logs/policy-author.log)"
rm -rf "$COPY"
