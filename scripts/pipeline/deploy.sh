#!/usr/bin/env bash
# Deploys the stack: synthesizes the template from the built zips, uploads each zip to the
# artifact bucket under its content-addressed key, runs `aws cloudformation deploy`, reads the
# outputs into .local/deploy/outputs.json, and seeds the policy table from policies/.
#
# Environment: STACK_NAME (default groupgate), AWS_REGION, ARTIFACT_BUCKET (required), and the
# AWS CLI's usual credentials (OIDC in the pipeline). AWS_ENDPOINT_URL points it all at an
# emulator (scripts/pipeline/rehearse.sh). PARAMETER_OVERRIDES adds `Key=Value` overrides.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_venv
export PATH="$VENV/bin:$PATH"

STACK_NAME=${STACK_NAME:-groupgate}
: "${AWS_REGION:?set AWS_REGION}"
: "${ARTIFACT_BUCKET:?set ARTIFACT_BUCKET to the S3 bucket for Lambda zips}"
ASSETS_DIR=${ASSETS_DIR:-target/lambda}
OUT="$ROOT/.local/deploy"
mkdir -p "$OUT"

say "synthesizing the template from $ASSETS_DIR"
cargo run --quiet -p deploy -- synth --out "$OUT" --assets "$ASSETS_DIR" >/dev/null ||
  fail "cargo run -p deploy -- synth"

python3 - "$OUT/assets.json" >"$OUT/uploads.txt" <<'PY'
import json, sys
for a in json.load(open(sys.argv[1]))["assets"]:
    print(a["path"], a["s3_key"])
PY
while read -r path key; do
  if aws s3api head-object --bucket "$ARTIFACT_BUCKET" --key "$key" >/dev/null 2>&1; then
    say "s3://$ARTIFACT_BUCKET/$key is already there"
  else
    say "uploading $path to s3://$ARTIFACT_BUCKET/$key"
    aws s3api put-object --bucket "$ARTIFACT_BUCKET" --key "$key" --body "$path" >/dev/null ||
      fail "uploading $path"
  fi
done <"$OUT/uploads.txt"

say "deploying stack $STACK_NAME to $AWS_REGION"
read -r -a overrides <<<"ArtifactBucket=$ARTIFACT_BUCKET ${PARAMETER_OVERRIDES:-}"
# CloudFormation takes a template inline up to 51,200 bytes; a larger one must go through S3.
template_via_s3=()
if [ "$(stat -c %s "$OUT/template.json")" -gt 51200 ]; then
  template_via_s3=(--s3-bucket "$ARTIFACT_BUCKET" --s3-prefix groupgate/templates)
fi
aws cloudformation deploy \
  --stack-name "$STACK_NAME" \
  --template-file "$OUT/template.json" \
  "${template_via_s3[@]}" \
  --parameter-overrides "${overrides[@]}" \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset || fail "aws cloudformation deploy"

aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
  --query 'Stacks[0].Outputs' --output json >"$OUT/outputs-list.json" || fail "reading the stack outputs"
if [ "$(cat "$OUT/outputs-list.json")" = null ] && [ "${OUTPUTS_FROM_RESOURCES:-}" = 1 ]; then
  # Only for the rehearsal: moto's change sets never compute outputs, so derive the ones the
  # next steps need from the stack's resources.
  aws cloudformation list-stack-resources --stack-name "$STACK_NAME" --output json >"$OUT/resources.json"
  account=$(aws sts get-caller-identity --query Account --output text)
  python3 - "$OUT/resources.json" "$account" "$STACK_NAME" "$AWS_REGION" >"$OUT/outputs-list.json" <<'PY'
import json, sys
resources, account, stack, region = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
ids = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources["StackResourceSummaries"]}
roles = ",".join(
    "%s=arn:aws:iam::%s:role/groupgate/%s/%s" % (group, account, stack, ids[logical])
    for logical, group in (("GroupRoleAdmin", "admin"), ("GroupRolePetVeterinarian", "pet-veterinarian"),
                           ("GroupRolePetViewer", "pet-viewer")))
outputs = {"ApiUrl": "https://%s.execute-api.%s.amazonaws.com/prod" % (ids["RestApi"], region),
           "PolicyTableName": ids["PolicyTable"], "PetsTableName": ids["PetsTable"], "GroupRoleArns": roles}
print(json.dumps([{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]))
PY
fi
python3 - "$OUT/outputs-list.json" >"$OUT/outputs.json" <<'PY'
import json, sys
listed = json.load(open(sys.argv[1]))
if not listed:
    sys.exit("the stack reports no outputs")
print(json.dumps({o["OutputKey"]: o["OutputValue"] for o in listed}, indent=2))
PY
say "stack outputs written to .local/deploy/outputs.json"

say "seeding the policy table from policies/"
cargo run --quiet -p deploy -- seed-policies \
  --table "$(json_get "$OUT/outputs.json" 's["PolicyTableName"]')" \
  --group-roles "$(json_get "$OUT/outputs.json" 's["GroupRoleArns"]')" || fail "seeding the policy table"
say "seeding the pets table (only when it is empty)"
cargo run --quiet -p deploy -- seed-pets \
  --table "$(json_get "$OUT/outputs.json" 's["PetsTableName"]')" || fail "seeding the pets table"
