#!/usr/bin/env bash
# Rehearses the deploy workflow's own scripts against moto's server instead of AWS: uploads the
# zips to S3, deploys the template with CloudFormation (the resources moto implements), reads
# the outputs back, and seeds the policy table. A broken step fails here, not first on GitHub.
#
# Uses the arm64 zips from scripts/pipeline/build.sh when present, else stand-in zips.
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
export ARTIFACT_BUCKET=groupgate-rehearsal-artifacts STACK_NAME=groupgate-rehearsal
# moto's change sets do not compute stack outputs; deploy.sh derives them from the resources.
export OUTPUTS_FROM_RESOURCES=1
aws s3api create-bucket --bucket "$ARTIFACT_BUCKET" >/dev/null || fail "creating the artifact bucket"

if [ -f target/lambda/authorizer/bootstrap.zip ] && [ -f target/lambda/backend/bootstrap.zip ]; then
  export ASSETS_DIR=target/lambda
  say "using the built arm64 zips in target/lambda"
else
  export ASSETS_DIR="$ROOT/.local/rehearsal-assets"
  say "no arm64 build in target/lambda: using stand-in zips in .local/rehearsal-assets"
  python3 - "$ASSETS_DIR" <<'PY'
import os, sys, zipfile
for function in ("authorizer", "backend"):
    os.makedirs(os.path.join(sys.argv[1], function), exist_ok=True)
    with zipfile.ZipFile(os.path.join(sys.argv[1], function, "bootstrap.zip"), "w") as z:
        z.writestr("bootstrap", "stand-in for " + function)
PY
fi

"$ROOT/scripts/pipeline/deploy.sh" || fail "deploy.sh against moto"

outputs="$ROOT/.local/deploy/outputs.json"
for key in ApiUrl PolicyTableName PetsTableName GroupRoleArns; do
  value=$(json_get "$outputs" "s.get('$key', '')")
  [ -n "$value" ] || fail "the stack has no $key output" "$outputs"
  say "output $key = $value"
done
while read -r key; do
  aws s3api head-object --bucket "$ARTIFACT_BUCKET" --key "$key" >/dev/null || fail "s3://$ARTIFACT_BUCKET/$key is missing"
done < <(json_get "$ROOT/.local/deploy/assets.json" '"\n".join(a["s3_key"] for a in s["assets"])')
seeded=$(aws dynamodb scan --table-name "$(json_get "$outputs" 's["PolicyTableName"]')" \
  --select COUNT --query Count --output text)
expected=$(find policies -name '*.json' | wc -l)
[ "$seeded" -eq "$expected" ] || fail "the policy table holds $seeded groups, expected $expected"

# Not rehearsed: a second deploy of an unchanged stack. AWS reports that as a FAILED change set,
# which --no-fail-on-empty-changeset accepts; moto rejects CreateChangeSet outright instead.
say "rehearsal passed: upload, CloudFormation deploy, outputs, seeding"
