#!/usr/bin/env bash
# Rehearses the deploy job against moto's server instead of AWS, with the same commands:
# `groupgate bootstrap`, then `groupgate deploy` twice (the second changes nothing), and the
# checks the job relies on afterwards. A broken step fails here, not first on GitHub.
#
# moto's gaps, and what stands in for them:
# - its CloudFormation skips AWS::ApiGateway::Account, so the account's CloudWatch role is set
#   here with UpdateAccount, as the bootstrap stack's resource would;
# - its change sets compute no outputs, so deploy derives them from the stack's resources
#   (--outputs-from-resources, for emulators only);
# - it has no FlushStageAuthorizersCache: deploy must warn that the flush failed.
#
# Uses dist/ from scripts/pipeline/build.sh when present, else the debug build and stand-in zips.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
trap stop_all EXIT
ensure_venv
export PATH="$VENV/bin:$PATH"

say "starting moto's server for the rehearsal"
start_moto
export AWS_ENDPOINT_URL=$MOTO_ENDPOINT AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
STACK_NAME=groupgate-rehearsal
OUT="$ROOT/.local/rehearsal"
rm -rf "$OUT"

if [ -x dist/groupgate ] && [ -f dist/lambda/authorizer/bootstrap.zip ]; then
  tool="$ROOT/dist/groupgate" assets=dist/lambda
  say "using dist/ (the build job's output)"
else
  tool=groupgate assets="$OUT/stand-in-assets"
  say "no dist/: using the debug groupgate and stand-in zips"
  for function in authorizer backend; do
    mkdir -p "$assets/$function"
    printf 'stand-in for %s\n' "$function" >"$assets/$function/bootstrap.zip"
  done
fi

say "groupgate bootstrap"
"$tool" bootstrap --repository groupgate/groupgate >"$LOGS/rehearse-bootstrap.log" 2>&1 ||
  fail "groupgate bootstrap" "$LOGS/rehearse-bootstrap.log"
aws apigateway update-account --patch-operations \
  "op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::123456789012:role/groupgate-bootstrap/groupgate-apigw-logs-us-east-1" \
  >/dev/null || fail "setting the API Gateway account's CloudWatch role (moto skips the resource)"

deploy() {
  "$tool" deploy --stack-name "$STACK_NAME" --assets "$assets" --out "$OUT" --flush-wait 0 \
    --outputs-from-resources >"$1" 2>&1 || fail "groupgate deploy" "$1"
}
say "groupgate deploy (first)"
deploy "$LOGS/rehearse-deploy-1.log"
grep -q "^$STACK_NAME: CREATE_COMPLETE" "$LOGS/rehearse-deploy-1.log" || fail "no CREATE_COMPLETE" "$LOGS/rehearse-deploy-1.log"
for key in ApiUrl PolicyTableName PetsTableName GroupRoleArns RestApiId; do
  value=$(json_get_optional "$OUT/outputs.json" "$key")
  [ -n "$value" ] || fail "the stack has no $key output" "$OUT/outputs.json"
  say "output $key = $value"
done
seeded=$(aws dynamodb scan --table-name "$(json_get "$OUT/outputs.json" PolicyTableName)" \
  --select COUNT --query Count --output text)
expected=$(find policies -name '*.json' | wc -l)
[ "$seeded" -eq "$expected" ] || fail "the policy table holds $seeded groups, expected $expected"

say "groupgate deploy (second, unchanged)"
deploy "$LOGS/rehearse-deploy-2.log"
grep -q "^$STACK_NAME: no changes" "$LOGS/rehearse-deploy-2.log" || fail "the unchanged deploy changed something" "$LOGS/rehearse-deploy-2.log"
grep -q "is already there" "$LOGS/rehearse-deploy-2.log" || fail "the unchanged deploy uploaded again" "$LOGS/rehearse-deploy-2.log"
grep -q "WARNING: the authorizer cache was not flushed (FlushStageAuthorizersCache" "$LOGS/rehearse-deploy-2.log" ||
  fail "the cache flush was not attempted" "$LOGS/rehearse-deploy-2.log"
say "rehearsal passed: bootstrap, deploy, unchanged redeploy, outputs, seeding, flush attempted"
