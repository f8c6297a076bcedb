#!/usr/bin/env bash
# Smoke-tests a deployed stack: creates one short-lived user per group (and one in no group)
# with random passwords, runs scripts/smoke.sh against the stack's outputs, and deletes the
# users at the end, also when a check fails.
#
# Needs only what a GitHub runner has: bash, curl, python3 and the AWS CLI; it installs nothing.
# Environment: OUTPUTS_FILE (default .local/deploy/outputs.json, from `groupgate deploy`),
# AWS_REGION, the AWS CLI's credentials; GROUPGATE, the prebuilt tool (else the debug build);
# COGNITO_ENDPOINT overrides Cognito's public endpoint (emulators).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
command -v aws >/dev/null || fail "the AWS CLI is not installed"

OUTPUTS_FILE=${OUTPUTS_FILE:-$ROOT/.local/deploy/outputs.json}
: "${AWS_REGION:?set AWS_REGION}"
[ -f "$OUTPUTS_FILE" ] || fail "no stack outputs at $OUTPUTS_FILE (run groupgate deploy)"
pool=$(json_get "$OUTPUTS_FILE" UserPoolId)
COGNITO_ENDPOINT=${COGNITO_ENDPOINT:-https://cognito-idp.$AWS_REGION.amazonaws.com}
STACK_FILE=$(mktemp)
USERS_FILE=$(mktemp)
run_id="smoke-$(date +%s)-$RANDOM"

delete_users() {
  while read -r username; do
    aws cognito-idp admin-delete-user --user-pool-id "$pool" --username "$username" >/dev/null 2>&1 ||
      say "could not delete smoke user $username"
  done < <(json_each "$USERS_FILE" username 2>/dev/null || true)
  rm -f "$STACK_FILE" "$USERS_FILE"
}
echo '[]' >"$USERS_FILE"
trap delete_users EXIT

mapfile -t groups < <(output_groups "$OUTPUTS_FILE")
[ "${#groups[@]}" -gt 0 ] || fail "the stack outputs in $OUTPUTS_FILE name no group"
for group in "${groups[@]}" ""; do
  username="${group:-nogroup}-$run_id@groupgate.invalid"
  password=$(python3 -c 'import secrets, string
alphabet = string.ascii_letters + string.digits
print("".join(secrets.choice(alphabet) for _ in range(20)) + "aA1!")')
  say "creating smoke user $username"
  aws cognito-idp admin-create-user --user-pool-id "$pool" --username "$username" \
    --message-action SUPPRESS >/dev/null || fail "creating $username"
  python3 - "$USERS_FILE" "$username" "$password" "$group" <<'PY'
import json, sys
path, username, password, group = sys.argv[1:]
users = json.load(open(path))
users.append({"username": username, "password": password, "groups": [group] if group else []})
json.dump(users, open(path, "w"))
PY
  aws cognito-idp admin-set-user-password --user-pool-id "$pool" --username "$username" \
    --password "$password" --permanent || fail "setting the password of $username"
  if [ -n "$group" ]; then
    aws cognito-idp admin-add-user-to-group --user-pool-id "$pool" --username "$username" \
      --group-name "$group" || fail "adding $username to $group"
  fi
done

python3 - "$OUTPUTS_FILE" "$USERS_FILE" "$COGNITO_ENDPOINT" "$AWS_REGION" >"$STACK_FILE" <<'PY'
import json, sys
outputs, users, endpoint, region = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
roles = dict(p.split("=", 1) for p in outputs["GroupRoleArns"].split(",") if p)
print(json.dumps({"api_url": outputs["ApiUrl"].rstrip("/"), "cognito_endpoint": endpoint, "region": region,
                  "user_pool_id": outputs["UserPoolId"], "operator_client_id": outputs["OperatorClientId"],
                  "pets_table": outputs.get("PetsTableName", ""),
                  "users": users, "group_roles": roles}))
PY
# On AWS the statuses are AWS's (deploy/access.json: a read-only role's write is refused);
# an emulator enforces no IAM.
case "$COGNITO_ENDPOINT" in
  https://cognito-idp.*.amazonaws.com) export SMOKE_ENVIRONMENT=${SMOKE_ENVIRONMENT:-aws} ;;
esac
"$ROOT/scripts/smoke.sh" --stack "$STACK_FILE"
