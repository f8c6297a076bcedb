#!/usr/bin/env bash
# Smoke tests with curl, for the local stack or a deployed one. Gets tokens through Cognito's
# admin flow on the stack's operator client (`groupgate token`), checks who may call what, prints
# one line per check and a summary, and exits non-zero on any failure.
#
#   scripts/smoke.sh                      # the local stack (.local/stack.json, from scripts/dev.sh)
#   scripts/smoke.sh --stack FILE         # any stack described in the same shape; for a deployed
#                                         # stack scripts/pipeline/smoke-deployed.sh writes it
#
# The stack file: {"api_url", "user_pool_id", "operator_client_id", "cognito_endpoint"
# (optional), "region" (optional), "users": [{"username", "password", "groups"}], "group_roles":
# {"group": "role ARN"}}; role checks run when "group_roles" is present and the backend assumes
# group roles.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

STACK_FILE="$ROOT/.local/stack.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK_FILE=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) fail "unknown argument '$1' (see --help)" ;;
  esac
done
[ -f "$STACK_FILE" ] || fail "no stack description at $STACK_FILE: start the local stack with scripts/dev.sh, or pass --stack FILE"

api=$(json_get "$STACK_FILE" api_url)

passed=0
failed=0
# Pets the checks created, removed at the end (the API has no DELETE) when the stack file names
# its pets table.
CREATED=()
remove_created() {
  local table ids=()
  table=$(json_get_optional "$STACK_FILE" pets_table 2>/dev/null) || table=""
  [ "${#CREATED[@]}" -gt 0 ] && [ -n "$table" ] || return 0
  for id in "${CREATED[@]}"; do ids+=(--id "$id"); done
  groupgate remove-pets --stack-file "$STACK_FILE" "${ids[@]}" >/dev/null ||
    say "could not remove the smoke pets ${CREATED[*]} from $table"
}
trap remove_created EXIT
# check DESCRIPTION EXPECTED_STATUS BODY_MUST_CONTAIN -- curl arguments...
check() {
  local description=$1 want=$2 needle=$3 body status
  shift 4
  body=$(mktemp)
  status=$(curl -s --max-time 30 -o "$body" -w '%{http_code}' "$@") || status="curl-failed"
  if [ "$status" = 201 ]; then
    local id
    id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$body" 2>/dev/null) || id=""
    [ -n "$id" ] && CREATED+=("$id")
  fi
  if [ "$status" = "$want" ] && grep -qF -- "$needle" "$body"; then
    printf 'ok   %s\n' "$description"
    passed=$((passed + 1))
  else
    printf 'FAIL %s: wanted %s with %q, got %s: %s\n' "$description" "$want" "$needle" "$status" "$(head -c 300 "$body")"
    failed=$((failed + 1))
  fi
  rm -f "$body"
}

say "smoke-testing $api"
# The access rules come from deploy/access.json, as `groupgate simulate` states them: the same
# file is checked offline by scripts/test.sh, here on the local stack, and after each deploy.
# SMOKE_ENVIRONMENT picks the statuses: `local` (moto enforces no IAM) or `aws`.
CASES=$(mktemp)
groupgate simulate --format tsv --expect "$ROOT/deploy/access.json" --policies "$ROOT/policies" \
  --settings "$ROOT/deploy/groupgate.toml" --environment "${SMOKE_ENVIRONMENT:-local}" >"$CASES" ||
  fail "groupgate simulate: the policies no longer match deploy/access.json"
declare -A TOKENS
# A token for a user in exactly the group GROUP (`(no group)`: in none): token_for GROUP
token_for() {
  local group=$1 user
  [ "$group" != "(no group)" ] || group=""
  [ -z "${TOKENS[$1]:-}" ] || return 0
  user=$(stack_user "$STACK_FILE" "$group" username) || fail "no user in $1 in $STACK_FILE"
  TOKENS[$1]=$(stack_token "$STACK_FILE" "$user") || fail "no token for $user"
}

check "no token is 401" 401 'Unauthorized' -- "$api/petstore/v1/pets"
check "a 401 says what to do" 401 '"hint":"send a valid Cognito access token' -- "$api/petstore/v1/pets"
check "a garbage token is 401" 401 'Unauthorized' -- -H "Authorization: Bearer not.a.token" "$api/petstore/v1/pets"
while IFS=$'\t' read -r group method _route path decision status; do
  [ "$group" = group ] && continue
  token_for "$group"
  args=(-H "Authorization: Bearer ${TOKENS[$group]}")
  [ "$method" = POST ] && args+=(-X POST -d '{"name":"Smoke Test Pet"}')
  check "$group: $method $path is $status ($decision)" "$status" "" -- "${args[@]}" "$api$path"
done <"$CASES"
rm -f "$CASES"
admin=${TOKENS[admin]:-}
[ -n "$admin" ] || fail "deploy/access.json has no admin group"

admin_role=$(json_get_optional "$STACK_FILE" group_roles admin)
if [ -n "$admin_role" ] && [ "${SMOKE_EXPECT_ROLE_SWITCH:-true}" = true ]; then
  role_name=${admin_role##*/}
  check "admin's identity shows the admin group role" 200 ":assumed-role/$role_name/" -- \
    -H "Authorization: Bearer $admin" "$api/petstore/v2/identity"
fi

if [ -n "$(json_get_optional "$STACK_FILE" pets_table)" ]; then
  removed=("${CREATED[@]}")
  remove_created
  CREATED=()
  for id in "${removed[@]}"; do
    check "the smoke pet $id was removed" 404 "no pet with id $id" -- \
      -H "Authorization: Bearer $admin" "$api/petstore/v1/pets/$id"
  done
fi

printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
