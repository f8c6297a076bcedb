#!/usr/bin/env bash
# `groupgate explain` against the running local stack's real tokens: each case must come out
# with its decision and its reason in words. Run by scripts/test.sh after the smoke tests.
#
#   scripts/explain-smoke.sh            # the running local stack of scripts/dev.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
STACK_FILE=$(mktemp)
trap 'rm -f "$STACK_FILE"' EXIT
describe_stack "$STACK_FILE"

passed=0
failed=0
# expect DESCRIPTION NEEDLE -- explain arguments...: the output must contain NEEDLE.
expect() {
  local description=$1 needle=$2 out
  shift 3
  out=$(groupgate explain "$@" 2>&1) || true
  if grep -qF -- "$needle" <<<"$out"; then
    printf 'ok   %s\n' "$description"
    passed=$((passed + 1))
  else
    printf 'FAIL %s: wanted %q in:\n%s\n' "$description" "$needle" "$out"
    failed=$((failed + 1))
  fi
  if grep -qF -- "$token" <<<"$out"; then
    printf 'FAIL %s: the token was printed\n' "$description"
    failed=$((failed + 1))
  fi
}

vet=$(stack_user "$STACK_FILE" pet-veterinarian username)
token=$(stack_token "$STACK_FILE" "$vet") || fail "no token for $vet"
# explain reads the token from the environment: never on a command line, where `ps` shows it.
export GROUPGATE_TOKEN="$token"
web_client=$(json_get "$STACK_FILE" user_pool_client_id)
later=$(($(date +%s) + 2 * 3600))

# shellcheck disable=SC2016 # the backquotes are the output's own, not an expansion
expect "a veterinarian's v1 call is allowed by its group's statement" \
  'decision: Allow (200): allowed by group `pet-veterinarian` statement #0' -- \
  --method GET --path /petstore/v1/pets
expect "the same user's v2 call is denied: no statement allows it" \
  'decision: Deny (403): no statement allows it' -- \
  --method GET --path /petstore/v2/pets
expect "an expired token is refused with how long ago it expired" \
  'FAILED  time (expiry, not before, issued at, lifetime): expired 1 h' -- \
  --method GET --path /petstore/v1/pets --now "$later"
expect "a token from another client is refused, naming the client ids" \
  "is not one of $web_client" -- \
  --method GET --path /petstore/v1/pets --client-id "$web_client"
expect "the JSON form names the decision and the deciding group" \
  '"decision":"allow"' -- \
  --method GET --path /petstore/v1/pets --format json

# A machine client's token: explained by its scope's policy, as the authorizer decides it.
if scope=$(python3 -c 'import json, sys
decisions = json.load(open(sys.argv[1]))["decisions"]
print(next(k[len("scope:"):] for k in decisions if k.startswith("scope:")))' "$ROOT/deploy/access.json" 2>/dev/null); then
  GROUPGATE_TOKEN=$(machine_token "$STACK_FILE" "$scope") || fail "no machine token for $scope"
  token=$GROUPGATE_TOKEN
  # shellcheck disable=SC2016 # the backquotes are the output's own, not an expansion
  expect "a machine client's call is decided by its scope's policy" \
    "client  a machine client (client-credentials token): its scopes' policies: scope:$scope" -- \
    --method GET --path /petstore/v1/pets
fi

printf 'explain: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
