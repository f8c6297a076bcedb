#!/usr/bin/env bash
# The check to run once on a real account before relying on the pipeline: with credentials of a
# sandbox account in the shell, it runs what the pipeline and an operator do, and says after each
# step what it expected and what it got:
#   1. groupgate bootstrap
#   2. groupgate deploy (a first deploy: it must be given HostedUiCallbackUrl)
#   3. the deployed smoke test (scripts/pipeline/smoke-deployed.sh)
#   4. an unchanged redeploy: no upload, no stack change
#   5. a policy change deployed, and how long until a caller sees it
#   6. a parameter set by hand (LogRetentionDays) survives the next deploy
#   7. the app stack deleted: what its template retains (the user pool and tables) is listed
#      with the command that deletes it, and checked to be still there
# and ends with one line: `acceptance: passed`, or the step that failed.
#
#   scripts/acceptance.sh --repository OWNER/NAME --repository-id ID --owner-id ID \
#                         [--stack-name NAME] [--region REGION]
#   scripts/acceptance.sh --moto        # the same steps against moto (scripts/test.sh runs it)
#
# --repository, --repository-id and --owner-id name the repository the pipeline deploys from, as
# `groupgate bootstrap` takes them (`gh api repos/OWNER/NAME --jq '.id, .owner.id'`): the bootstrap
# (re)writes the deploy role's trust, so another repository would lock the pipeline out.
# Needs bash, curl, python3, the AWS CLI and the Lambda zips: dist/ from
# scripts/pipeline/build.sh (built first when missing). The bootstrap stack stays (deleting it
# is a decision for the account); the app stack is deleted at the end, also when a step fails.
#
# With --moto, what moto cannot model is skipped, and says so: its CloudFormation skips the user
# pool, the authorizer and the stage, and it runs no Lambda without Docker, so there is no API to
# call (steps 3 and the caller's side of 5); it skips the bucket's VersioningConfiguration, so
# versioning is turned on by hand after step 1; its change sets compute no
# outputs (`--outputs-from-resources`), so the stack is read from the description the deploy
# wrote rather than from `groupgate describe --stack`; it has no FlushStageAuthorizersCache, so
# the deploy warns.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

MOTO=false
STACK_NAME=groupgate-acceptance
REPOSITORY=""
REPOSITORY_ID=""
OWNER_ID=""
CALLBACK_URL=https://example.com/callback
while [ $# -gt 0 ]; do
  case "$1" in
    --moto) MOTO=true; shift ;;
    --stack-name) STACK_NAME=$2; shift 2 ;;
    --repository) REPOSITORY=$2; shift 2 ;;
    --repository-id) REPOSITORY_ID=$2; shift 2 ;;
    --owner-id) OWNER_ID=$2; shift 2 ;;
    --region) export AWS_REGION=$2 AWS_DEFAULT_REGION=$2; shift 2 ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) fail "unknown argument '$1' (see --help)" ;;
  esac
done

OUT="$ROOT/.local/acceptance"
rm -rf "$OUT"
mkdir -p "$OUT"
STEP=0
CURRENT="starting"
SKIPPED=0
step() {
  STEP=$((STEP + 1))
  CURRENT=$1
  printf '\n[%d] %s\n' "$STEP" "$1"
}
expect() { printf '    expect: %s\n' "$*"; }
got() { printf '    got:    %s\n' "$*"; }
skipped() {
  printf '    SKIPPED on moto: %s\n' "$*"
  SKIPPED=$((SKIPPED + 1))
}
# Says what was got instead, then ends the run on the current step (the app stack is deleted
# on the way out): failed WHAT [LOG]
failed() {
  got "$1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 15 "$2" | sed 's/^/        /'; fi
  printf 'acceptance: FAILED at step %d (%s)\n' "$STEP" "$CURRENT"
  exit 1
}
# One field of the stack's description the deploy wrote (as `groupgate describe --stack` prints
# it; read as data, never evaluated): output FIELD...
output() {
  json_get "$OUT/stack.json" "$@"
}
# One parameter's value on the app stack: stack_parameter KEY
stack_parameter() {
  aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue" --output text
}

CREATED_USER=""
POOL=""
# Set once this run starts the app stack: only then is it this run's to delete.
OURS=false
cleanup() {
  local status=$?
  if [ -n "$CREATED_USER" ] && [ -n "$POOL" ]; then
    aws cognito-idp admin-delete-user --user-pool-id "$POOL" --username "$CREATED_USER" >/dev/null 2>&1 ||
      say "could not delete the user $CREATED_USER"
  fi
  if [ "$status" -ne 0 ] && [ "$OURS" = true ] && aws cloudformation describe-stacks --stack-name "$STACK_NAME" >/dev/null 2>&1; then
    say "deleting $STACK_NAME after the failure"
    aws cloudformation delete-stack --stack-name "$STACK_NAME" >/dev/null 2>&1 || true
  fi
  stop_all
  exit "$status"
}
trap cleanup EXIT

command -v aws >/dev/null || fail "the AWS CLI is not installed"
deploy_flags=()
if [ "$MOTO" = true ]; then
  ensure_venv
  export PATH="$VENV/bin:$PATH"
  say "starting moto's server for the acceptance run"
  start_moto
  export AWS_ENDPOINT_URL=$MOTO_ENDPOINT AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_SESSION_TOKEN AWS_PROFILE
  deploy_flags=(--outputs-from-resources --flush-wait 0)
  REPOSITORY=${REPOSITORY:-groupgate/groupgate} REPOSITORY_ID=${REPOSITORY_ID:-456789} OWNER_ID=${OWNER_ID:-123456}
fi
[ -n "$REPOSITORY" ] && [ -n "$REPOSITORY_ID" ] && [ -n "$OWNER_ID" ] ||
  fail "pass --repository OWNER/NAME --repository-id ID --owner-id ID: the repository the pipeline deploys from (see --help)"
: "${AWS_REGION:=$(aws configure get region 2>/dev/null || true)}"
[ -n "$AWS_REGION" ] || fail "no region: set AWS_REGION or pass --region"
export AWS_REGION AWS_DEFAULT_REGION=$AWS_REGION

if [ -x dist/groupgate ] && [ -f dist/lambda/authorizer/bootstrap.zip ]; then
  export GROUPGATE="$ROOT/dist/groupgate"
  ASSETS="$ROOT/dist/lambda"
elif [ "$MOTO" = true ]; then
  ASSETS="$OUT/stand-in-assets"
  for function in authorizer backend; do
    mkdir -p "$ASSETS/$function"
    printf 'stand-in for %s\n' "$function" >"$ASSETS/$function/bootstrap.zip"
  done
else
  say "no dist/: building the zips and the tool first (scripts/pipeline/build.sh, a few minutes)"
  "$ROOT/scripts/pipeline/build.sh"
  export GROUPGATE="$ROOT/dist/groupgate"
  ASSETS="$ROOT/dist/lambda"
fi
if aws cloudformation describe-stacks --stack-name "$STACK_NAME" >/dev/null 2>&1; then
  fail "$STACK_NAME already exists in $AWS_REGION: delete it, or pass --stack-name"
fi
say "acceptance run of $STACK_NAME in $AWS_REGION$([ "$MOTO" = true ] && echo " (moto at $MOTO_ENDPOINT)")"

# Deploys the app stack with the zips, writing its log: deploy LOG [flags...]
deploy() {
  local log=$1
  shift
  groupgate deploy --stack-name "$STACK_NAME" --assets "$ASSETS" --out "$OUT" \
    "${deploy_flags[@]}" "$@" >"$log" 2>&1
}

step "bootstrap the account and region"
expect "groupgate-bootstrap is ready"
groupgate bootstrap --repository "$REPOSITORY" --repository-id "$REPOSITORY_ID" --owner-id "$OWNER_ID" \
  >"$OUT/bootstrap.log" 2>&1 ||
  failed "groupgate bootstrap exited non-zero" "$OUT/bootstrap.log"
grep -q "is ready in $AWS_REGION" "$OUT/bootstrap.log" || failed "no 'is ready' line" "$OUT/bootstrap.log"
got "$(grep "is ready in" "$OUT/bootstrap.log")"
if [ "$MOTO" = true ]; then
  bucket=$(aws s3api list-buckets --query "Buckets[?starts_with(Name, 'groupgate-assets-')].Name" --output text)
  aws s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled ||
    failed "versioning the artifact bucket (moto ignores the template's VersioningConfiguration)"
fi

step "first deploy"
expect "CREATE_COMPLETE, the stack's description with every output, every group of policies/ in the policy table"
OURS=true
deploy "$OUT/deploy-1.log" --parameter "HostedUiCallbackUrl=$CALLBACK_URL" ||
  failed "groupgate deploy exited non-zero" "$OUT/deploy-1.log"
grep -q "^$STACK_NAME: CREATE_COMPLETE" "$OUT/deploy-1.log" || failed "no CREATE_COMPLETE" "$OUT/deploy-1.log"
for field in api_url rest_api_id stage_name policy_table_name pets_table_name group_role_arns; do
  [ -n "$(output "$field" 2>/dev/null)" ] || failed "the stack's description has no $field" "$OUT/stack.json"
done
if [ "$MOTO" != true ]; then
  groupgate describe --stack "$STACK_NAME" >"$OUT/described.json" 2>&1 ||
    failed "groupgate describe --stack $STACK_NAME exited non-zero" "$OUT/described.json"
  cmp -s "$OUT/described.json" "$OUT/stack.json" ||
    failed "groupgate describe --stack $STACK_NAME differs from the deploy's description" "$OUT/described.json"
fi
POLICY_TABLE=$(output policy_table_name)
seeded=$(aws dynamodb scan --table-name "$POLICY_TABLE" --select COUNT --query Count --output text)
groups=$(find policies -name '*.json' | wc -l)
[ "$seeded" -eq "$groups" ] || failed "the policy table holds $seeded groups, not $groups"
got "CREATE_COMPLETE; API at $(output api_url); $seeded groups seeded"

step "the deployed smoke test (scripts/pipeline/smoke-deployed.sh)"
expect "smoke: N passed, 0 failed"
if [ "$MOTO" = true ]; then
  skipped "moto's CloudFormation creates no user pool, authorizer or stage, and moto runs no Lambda without Docker: there is no API to call"
else
  STACK_NAME="$STACK_NAME" "$ROOT/scripts/pipeline/smoke-deployed.sh" >"$OUT/smoke.log" 2>&1 ||
    failed "the smoke test failed" "$OUT/smoke.log"
  got "$(grep '^smoke:' "$OUT/smoke.log")"
fi

step "unchanged redeploy"
expect "no stack changes, no zip uploaded, the default pets left as they are"
deploy "$OUT/deploy-2.log" || failed "groupgate deploy exited non-zero" "$OUT/deploy-2.log"
grep -q "^$STACK_NAME: no changes" "$OUT/deploy-2.log" || failed "the stack changed" "$OUT/deploy-2.log"
grep -q "^uploading " "$OUT/deploy-2.log" && failed "a zip was uploaded again" "$OUT/deploy-2.log"
if [ "$MOTO" = true ]; then
  grep -q "WARNING: the authorizer cache was not flushed (FlushStageAuthorizersCache" "$OUT/deploy-2.log" ||
    failed "the cache flush was not attempted" "$OUT/deploy-2.log"
fi
got "$(grep "^$STACK_NAME: deployed" "$OUT/deploy-2.log")"

step "a policy change, and the time until callers see it"
API_URL=$(output api_url)
POOL=$(output user_pool_id)
viewer_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $VIEWER_TOKEN" \
    "$API_URL/petstore/v1/pets" || echo curl-failed
}
if [ "$MOTO" != true ]; then
  CREATED_USER="acceptance-$(date +%s)-$RANDOM@groupgate.invalid"
  password=$(python3 -c 'import secrets, string
print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20)) + "aA1!")')
  aws cognito-idp admin-create-user --user-pool-id "$POOL" --username "$CREATED_USER" \
    --message-action SUPPRESS >/dev/null || failed "creating a pet-viewer user"
  aws cognito-idp admin-set-user-password --user-pool-id "$POOL" --username "$CREATED_USER" \
    --password "$password" --permanent || failed "setting its password"
  aws cognito-idp admin-add-user-to-group --user-pool-id "$POOL" --username "$CREATED_USER" \
    --group-name pet-viewer || failed "adding it to pet-viewer"
  VIEWER_TOKEN=$(GROUPGATE_PASSWORD=$password groupgate token --stack "$STACK_NAME" --user "$CREATED_USER") ||
    failed "no token for the pet-viewer user"
  before=$(viewer_status)
  [ "$before" = 200 ] || failed "a pet-viewer's GET /petstore/v1/pets is $before before the change, not 200"
fi
changed="$OUT/policies"
cp -r policies "$changed"
python3 - "$changed/pet-viewer.json" <<'PY'
import json, sys
path = sys.argv[1]
definition = json.load(open(path))
definition["policy"]["Statement"].append({
    "Sid": "AcceptanceDeny", "Effect": "Deny", "Action": "execute-api:Invoke",
    "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets"})
json.dump(definition, open(path, "w"), indent=2)
PY
expect "the new policy in the policy table; a pet-viewer's GET /petstore/v1/pets turns from 200 to 403 within 60 s of the deploy's end (it flushes the authorizer cache, waits out the function's own policy cache, and flushes again)"
started=$SECONDS
deploy "$OUT/deploy-3.log" --policies "$changed" || failed "groupgate deploy exited non-zero" "$OUT/deploy-3.log"
deployed_in=$((SECONDS - started))
aws dynamodb get-item --table-name "$POLICY_TABLE" --key '{"group": {"S": "pet-viewer"}}' \
  --query 'Item.policy.S' --output text | grep -q AcceptanceDeny ||
  failed "the policy table does not hold the changed pet-viewer policy"
if [ "$MOTO" = true ]; then
  got "the changed policy is in the policy table (deploy took ${deployed_in}s)"
  skipped "no API to call, so no caller to see the change"
else
  deadline=$((SECONDS + 300))
  status=$(viewer_status)
  until [ "$status" = 403 ] || [ $SECONDS -ge $deadline ]; do
    sleep 2
    status=$(viewer_status)
  done
  [ "$status" = 403 ] || failed "still $status five minutes after the deploy"
  after=$((SECONDS - started - deployed_in))
  [ "$after" -le 60 ] || failed "403 only ${after}s after the deploy ended"
  got "403 ${after}s after the deploy ended (the deploy took ${deployed_in}s)"
fi

step "a parameter set by hand survives the next deploy"
expect "LogRetentionDays set to 14 by hand (UpdateStack with the previous template) is still 14 after groupgate deploy"
# Every other parameter is passed with the value it has (moto's UpdateStack fails on
# UsePreviousValue for a parameter that was left to its default).
aws cloudformation describe-stacks --stack-name "$STACK_NAME" --query 'Stacks[0].Parameters' \
  --output json >"$OUT/parameters.json" || failed "DescribeStacks"
python3 - "$OUT/parameters.json" <<'PY'
import json, sys
path = sys.argv[1]
parameters = [
    {"ParameterKey": p["ParameterKey"],
     "ParameterValue": "14" if p["ParameterKey"] == "LogRetentionDays" else p.get("ParameterValue", "")}
    for p in json.load(open(path))
]
json.dump(parameters, open(path, "w"))
PY
aws cloudformation update-stack --stack-name "$STACK_NAME" --use-previous-template \
  --capabilities CAPABILITY_IAM --parameters "file://$OUT/parameters.json" >/dev/null ||
  failed "UpdateStack by hand was refused"
aws cloudformation wait stack-update-complete --stack-name "$STACK_NAME" ||
  failed "the update by hand did not complete"
[ "$(stack_parameter LogRetentionDays)" = 14 ] || failed "the update by hand did not set LogRetentionDays"
deploy "$OUT/deploy-4.log" --policies "$changed" || failed "groupgate deploy exited non-zero" "$OUT/deploy-4.log"
value=$(stack_parameter LogRetentionDays)
[ "$value" = 14 ] || failed "LogRetentionDays is $value after the deploy" "$OUT/deploy-4.log"
got "LogRetentionDays is $value after: $(grep "^$STACK_NAME: deployed" "$OUT/deploy-4.log")"

step "delete the app stack"
expect "DELETE_COMPLETE; each resource the template retains (DeletionPolicy) listed with the command that deletes it, and still there"
# What the template keeps on a delete, read from the stack's own template, with the ids the
# stack gave them (moto skips the user pool: it has none, and is listed as not created).
aws cloudformation get-template --stack-name "$STACK_NAME" --query TemplateBody --output json \
  >"$OUT/deployed-template.json" || failed "GetTemplate"
aws cloudformation list-stack-resources --stack-name "$STACK_NAME" --query StackResourceSummaries \
  --output json >"$OUT/resources.json" || failed "ListStackResources"
python3 - "$OUT/deployed-template.json" "$OUT/resources.json" >"$OUT/retained.txt" <<'PY' ||
import json, sys
template = json.load(open(sys.argv[1]))
if isinstance(template, str):
    template = json.loads(template)
physical = {r.get("LogicalResourceId"): r.get("PhysicalResourceId", "") for r in json.load(open(sys.argv[2]))}
for logical, resource in sorted(template.get("Resources", {}).items()):
    if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot"):
        print(logical, resource["Type"], physical.get(logical) or "-")
PY
  failed "the retained resources could not be read from the template"
[ -s "$OUT/retained.txt" ] || failed "the template retains nothing: the user pool and the tables should be kept"
# Whether a retained resource is there: exists TYPE ID (an unknown type counts as there).
exists() {
  case "$1" in
    AWS::DynamoDB::Table) aws dynamodb describe-table --table-name "$2" >/dev/null 2>&1 ;;
    AWS::Cognito::UserPool) aws cognito-idp describe-user-pool --user-pool-id "$2" >/dev/null 2>&1 ;;
    *) true ;;
  esac
}
# The command that deletes one by hand: delete_command TYPE ID
delete_command() {
  case "$1" in
    AWS::DynamoDB::Table) echo "aws dynamodb delete-table --table-name $2" ;;
    AWS::Cognito::UserPool) echo "aws cognito-idp delete-user-pool --user-pool-id $2" ;;
    *) echo "delete it in the $1 console" ;;
  esac
}
while read -r logical type id; do
  if [ "$id" = - ]; then
    [ "$MOTO" = true ] || failed "$logical ($type) is retained but the stack has no id for it"
    continue
  fi
  exists "$type" "$id" || failed "$logical ($type) $id is listed by the stack but does not exist"
done <"$OUT/retained.txt"
aws cloudformation delete-stack --stack-name "$STACK_NAME" || failed "DeleteStack was refused"
aws cloudformation wait stack-delete-complete --stack-name "$STACK_NAME" ||
  failed "the stack was not deleted"
kept=()
while read -r logical type id; do
  if [ "$id" = - ]; then
    say "kept: $logical ($type) was not created by moto"
    continue
  fi
  if [ "$MOTO" != true ] && ! exists "$type" "$id"; then
    failed "$logical ($type) $id is retained by the template but is gone after the delete"
  fi
  say "kept: $logical ($type) $id; delete it by hand when you no longer need it: $(delete_command "$type" "$id")"
  kept+=("$logical")
done <"$OUT/retained.txt"
[ ${#kept[@]} -gt 0 ] || failed "no retained resource was listed"
got "DELETE_COMPLETE; kept: ${kept[*]}"
if [ "$MOTO" = true ]; then
  # moto keeps only `DeletionPolicy: Retain` (moto/cloudformation/parsing.py), not the
  # template's RetainExceptOnCreate: it deletes the tables with the stack.
  skipped "that they are still there after the delete: moto deletes RetainExceptOnCreate resources with the stack (they were there before it)"
fi

printf '\nacceptance: passed (%d steps%s)\n' "$STEP" \
  "$([ "$SKIPPED" -gt 0 ] && echo ", $SKIPPED skipped on moto" || true)"
