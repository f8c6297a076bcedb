#!/usr/bin/env bash
# Smoke-tests a deployed stack: creates one short-lived user per group (and one in no group)
# with random passwords, runs scripts/smoke.sh against the stack's description, and deletes the
# users at the end, also when a check fails.
#
# Needs only what a GitHub runner has: bash, curl, python3 and the AWS CLI; it installs nothing.
# Environment: STACK_NAME, the deployed stack (`groupgate describe --stack` reads its outputs;
# unset: the running local stack, which scripts/test.sh rehearses this on), AWS_REGION, the AWS
# CLI's credentials; GROUPGATE, the prebuilt tool (else the debug build).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
command -v aws >/dev/null || fail "the AWS CLI is not installed"
: "${AWS_REGION:?set AWS_REGION}"

STACK_FILE=$(mktemp)
USERS_FILE=$(mktemp)
pool=""
delete_users() {
  local username
  while IFS=$'\t' read -r username _; do
    aws cognito-idp admin-delete-user --user-pool-id "$pool" --username "$username" >/dev/null 2>&1 ||
      say "could not delete smoke user $username"
  done <"$USERS_FILE"
  rm -f "$STACK_FILE" "$USERS_FILE"
}
trap delete_users EXIT
describe_stack "$STACK_FILE" "${STACK_NAME:-}"
pool=$(json_get "$STACK_FILE" user_pool_id)
run_id="smoke-$(date +%s)-$RANDOM"

mapfile -t groups < <(json_keys "$STACK_FILE" group_role_arns)
[ "${#groups[@]}" -gt 0 ] || fail "the stack's description names no group"
for group in "${groups[@]}" ""; do
  username="${group:-nogroup}-$run_id@groupgate.invalid"
  password=$(python3 -c 'import secrets, string
alphabet = string.ascii_letters + string.digits
print("".join(secrets.choice(alphabet) for _ in range(20)) + "aA1!")')
  say "creating smoke user $username"
  aws cognito-idp admin-create-user --user-pool-id "$pool" --username "$username" \
    --message-action SUPPRESS >/dev/null || fail "creating $username"
  printf '%s\t%s\t%s\n' "$username" "$password" "$group" >>"$USERS_FILE"
  aws cognito-idp admin-set-user-password --user-pool-id "$pool" --username "$username" \
    --password "$password" --permanent || fail "setting the password of $username"
  if [ -n "$group" ]; then
    aws cognito-idp admin-add-user-to-group --user-pool-id "$pool" --username "$username" \
      --group-name "$group" || fail "adding $username to $group"
  fi
done

# On AWS the statuses are AWS's (deploy/access.json: a read-only role's write is refused); the
# local stack's emulator enforces no IAM.
if [ -z "$(json_get_optional "$STACK_FILE" local)" ]; then
  export SMOKE_ENVIRONMENT=${SMOKE_ENVIRONMENT:-aws}
fi
"$ROOT/scripts/smoke.sh" --stack "$STACK_FILE" --users "$USERS_FILE"
