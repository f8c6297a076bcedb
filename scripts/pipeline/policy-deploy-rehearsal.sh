#!/usr/bin/env bash
# Rehearses the pipeline's policy-only deploy against moto, as a push to main that changes only
# policies/ (and deploy/access.json) runs it, and times it against a full `groupgate deploy` of
# the same kind of change:
#   1. bootstrap and a first full deploy (stand-in zips: moto runs no Lambda)
#   2. a statement changed, and the access matrix updated, as a policy author does
#   3. the fast path: route.py's template check, validate, simulate --expect, deploy-policies
#   4. the same kind of change through the full `groupgate deploy`, for the time it takes
#   5. an added group is refused by both checks: it needs the full deploy
# and ends with one line: `policy-deploy: passed (...)` with both times, or the step that failed.
#
#   scripts/pipeline/policy-deploy-rehearsal.sh        (scripts/test.sh acceptance runs it)
#
# On moto there is no API to call (its CloudFormation skips the user pool, authorizer and stage),
# so the smoke test is skipped, and FlushStageAuthorizersCache is not implemented, so the flush
# is checked to have been tried.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
trap stop_all EXIT

OUT="$ROOT/.local/policy-deploy"
STACK_NAME=groupgate-policy-rehearsal
rm -rf "$OUT"
mkdir -p "$OUT"
STEP=0
CURRENT=starting
step() {
  STEP=$((STEP + 1))
  CURRENT=$1
  printf '\n[%d] %s\n' "$STEP" "$1"
}
expect() { printf '    expect: %s\n' "$*"; }
got() { printf '    got:    %s\n' "$*"; }
failed() {
  got "$1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 15 "$2" | sed 's/^/        /'; fi
  printf 'policy-deploy: FAILED at step %d (%s)\n' "$STEP" "$CURRENT"
  exit 1
}

ensure_venv
export PATH="$VENV/bin:$PATH"
say "starting moto's server for the policy-only deploy rehearsal"
start_moto
export AWS_ENDPOINT_URL=$MOTO_ENDPOINT AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE
# The tool a deploy job runs: the build's when there is one, else the debug build.
[ -x "$ROOT/dist/groupgate" ] && export GROUPGATE="$ROOT/dist/groupgate"
groupgate --version >/dev/null
TOOL=${GROUPGATE:-$ROOT/target/debug/groupgate}
# moto's change sets compute no outputs, and there is nothing to wait for between flushes.
emulator=(--outputs-from-resources --flush-wait 0)

ASSETS="$OUT/stand-in-assets"
for function in authorizer backend; do
  mkdir -p "$ASSETS/$function"
  printf 'stand-in for %s\n' "$function" >"$ASSETS/$function/bootstrap.zip"
done

# The policy stored for GROUP in the stack's policy table: stored_policy GROUP
stored_policy() {
  local table
  table=$(json_get "$OUT/deploy/stack.json" policy_table_name)
  aws dynamodb get-item --table-name "$table" --key "{\"group\": {\"S\": $(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1")}}" \
    --query 'Item.policy.S' --output text
}

# Adds a Deny of GET /petstore/v1/pets with SID to the definition FILE: add_deny FILE SID
add_deny() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, sid = sys.argv[1:]
definition = json.load(open(path))
definition["policy"]["Statement"].append({
    "Sid": sid, "Effect": "Deny", "Action": "execute-api:Invoke",
    "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets"})
json.dump(definition, open(path, "w"), indent=2)
PY
}

step "bootstrap, and a first full deploy"
expect "CREATE_COMPLETE, and every group of policies/ in the policy table"
groupgate bootstrap --repository groupgate/groupgate --repository-id 456789 --owner-id 123456 \
  >"$OUT/bootstrap.log" 2>&1 || failed "groupgate bootstrap exited non-zero" "$OUT/bootstrap.log"
bucket=$(aws s3api list-buckets --query "Buckets[?starts_with(Name, 'groupgate-assets-')].Name" --output text)
# moto's CloudFormation skips the bucket's VersioningConfiguration.
aws s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled ||
  failed "versioning the artifact bucket"
groupgate deploy --stack-name "$STACK_NAME" --assets "$ASSETS" --out "$OUT/deploy" "${emulator[@]}" \
  --parameter HostedUiCallbackUrl=https://example.com/callback >"$OUT/deploy-1.log" 2>&1 ||
  failed "groupgate deploy exited non-zero" "$OUT/deploy-1.log"
grep -q "^$STACK_NAME: CREATE_COMPLETE" "$OUT/deploy-1.log" || failed "no CREATE_COMPLETE" "$OUT/deploy-1.log"
got "$(grep "^$STACK_NAME: deployed" "$OUT/deploy-1.log")"

step "a policy author changes a statement and updates the access matrix"
# The first group file, whichever it is: this rehearsal names no group of policies/.
changed="$OUT/policies"
cp -r policies "$changed"
cp deploy/access.json "$OUT/access.json"
file=$(find "$changed" -name '*.json' | sort | head -n 1)
group=$(json_get "$file" group)
add_deny "$file" FastPathDeny
expect "simulate --update rewrites the matrix, and the group \`$group\` loses GET /petstore/v1/pets"
groupgate simulate --policies "$changed" --expect "$OUT/access.json" --update >"$OUT/simulate-update.log" 2>&1 ||
  failed "simulate --update exited non-zero" "$OUT/simulate-update.log"
cmp -s deploy/access.json "$OUT/access.json" && failed "the matrix did not change"
got "the matrix changed for \`$group\`"

step "the fast path, as deploy.yml runs it"
expect "the same template, validate and simulate clean, the new policy stored, the flush tried"
fast_started=$(date +%s%N)
python3 "$ROOT/scripts/pipeline/route.py" --templates "$TOOL" "$ROOT/policies" "$changed" >"$OUT/route.log" 2>&1 ||
  failed "route.py says the template changes" "$OUT/route.log"
groupgate validate --policies "$changed" >"$OUT/validate.log" 2>&1 || failed "groupgate validate" "$OUT/validate.log"
groupgate simulate --policies "$changed" --expect "$OUT/access.json" >"$OUT/simulate.log" 2>&1 ||
  failed "groupgate simulate --expect" "$OUT/simulate.log"
groupgate deploy-policies --stack-name "$STACK_NAME" --policies "$changed" --out "$OUT/deploy" "${emulator[@]}" \
  >"$OUT/deploy-policies.log" 2>&1 || failed "groupgate deploy-policies exited non-zero" "$OUT/deploy-policies.log"
fast_ms=$((($(date +%s%N) - fast_started) / 1000000))
stored_policy "$group" | grep -q FastPathDeny || failed "the policy table does not hold the changed policy"
grep -q "WARNING: the authorizer cache was not flushed (FlushStageAuthorizersCache" "$OUT/deploy-policies.log" ||
  failed "the cache flush was not tried" "$OUT/deploy-policies.log"
grep -q "^$STACK_NAME: policies deployed" "$OUT/deploy-policies.log" || failed "no closing line" "$OUT/deploy-policies.log"
got "stored in ${fast_ms} ms: $(grep "^$STACK_NAME: policies deployed" "$OUT/deploy-policies.log")"
say "SKIPPED on moto: the smoke test (there is no API to call)"

step "the same kind of change through the full groupgate deploy"
expect "the new policy stored; the time it takes, for comparison"
add_deny "$file" FullPathDeny
full_started=$(date +%s%N)
groupgate deploy --stack-name "$STACK_NAME" --assets "$ASSETS" --out "$OUT/deploy" --policies "$changed" \
  "${emulator[@]}" >"$OUT/deploy-2.log" 2>&1 || failed "groupgate deploy exited non-zero" "$OUT/deploy-2.log"
full_ms=$((($(date +%s%N) - full_started) / 1000000))
stored_policy "$group" | grep -q FullPathDeny || failed "the policy table does not hold the changed policy"
got "stored in ${full_ms} ms: $(grep "^$STACK_NAME: deployed" "$OUT/deploy-2.log")"

step "an added group needs the full deploy"
expect "route.py says the template changes, and deploy-policies refuses without writing"
added="$OUT/policies-added"
cp -r "$changed" "$added"
python3 - "$file" "$added/rehearsal-added.json" <<'PY'
import json, sys
definition = json.load(open(sys.argv[1]))
definition["group"] = "rehearsal-added"
json.dump(definition, open(sys.argv[2], "w"), indent=2)
PY
if python3 "$ROOT/scripts/pipeline/route.py" --templates "$TOOL" "$changed" "$added" >"$OUT/route-added.log" 2>&1; then
  failed "route.py took an added group for a policy-only change" "$OUT/route-added.log"
fi
if groupgate deploy-policies --stack-name "$STACK_NAME" --policies "$added" --out "$OUT/deploy" "${emulator[@]}" \
  >"$OUT/deploy-policies-added.log" 2>&1; then
  failed "deploy-policies deployed an added group" "$OUT/deploy-policies-added.log"
fi
grep -q "deploy it with \`groupgate deploy\`" "$OUT/deploy-policies-added.log" ||
  failed "deploy-policies did not say to run groupgate deploy" "$OUT/deploy-policies-added.log"
[ "$(stored_policy rehearsal-added)" = None ] || failed "the added group was written to the policy table"
# shellcheck disable=SC2016 # the backquotes are the message's own
got "$(head -n 1 "$OUT/route-added.log"); $(grep -o 'differs from.*at `[^`]*`' "$OUT/deploy-policies-added.log")"

printf '\npolicy-deploy: passed (%d steps; on moto the policy-only path took %d ms, a full groupgate deploy %d ms)\n' \
  "$STEP" "$fast_ms" "$full_ms"
