#!/usr/bin/env bash
# Several pools and a machine client, end to end: the tenants example (examples/tenants: the
# petstore's API, trusting a partner company's pool beside the stack's own, whose `admin` group
# has its own, smaller grant; and the petstore's machine-client scope).
#
#   scripts/tenants.sh offline  synth + cfn-lint (the authorizer's USER_POOLS), validate --strict,
#                               simulate --expect examples/tenants/access.json
#   scripts/tenants.sh local    the local stack with the example's settings and policies
#                               (scripts/dev.sh with GROUPGATE_SETTINGS and GROUPGATE_POLICIES):
#                               the partner pool's admin kept to its own grant, a machine client
#                               allowed and refused by scope, and a token of a pool no setting
#                               names refused with no request for that pool's keys
#
# scripts/test.sh runs `offline` in its toolbox stage and `local` in its local stage.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT
ensure_venv
export PATH="$VENV/bin:$PATH"

EXAMPLE="$ROOT/examples/tenants"
SETTINGS="$EXAMPLE/groupgate.toml"
POLICIES="$EXAMPLE/policies"
ACCESS="$EXAMPLE/access.json"
WORK="$ROOT/.local/tenants"

offline() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  say "synthesizing the tenants' stack and checking it with cfn-lint"
  synth_and_lint "$WORK" --settings "$SETTINGS" --policies "$POLICIES"
  if python3 - "$WORK/synth/template.json" <<'PY'; then
import json, sys
t = json.load(open(sys.argv[1]))["Resources"]
variables = t["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
assert "USER_POOLS" in variables and "USER_POOL_ID" not in variables, variables
groups = sorted(v["Properties"]["GroupName"] for v in t.values() if v["Type"] == "AWS::Cognito::UserPoolGroup")
assert groups == ["admin"], groups
assert "GroupRolePartnersAdmin" in t and "ResourceServerPetstore" in t and "MachineClient" in t
PY
    result ok "the template: USER_POOLS, the stack pool's group only, a role for the partner's admin, the scope's resource server and client"
  else
    result FAIL "the template does not say what the settings and policies say"
  fi
  say "validate --strict and simulate --expect on the tenants' policies"
  if example_tool validate --strict --settings "$SETTINGS" --policies "$POLICIES" >"$WORK/validate.log" 2>&1; then
    result ok "validate --strict: $(tail -n 1 "$WORK/validate.log")"
  else
    result FAIL "validate --strict: $(cat "$WORK/validate.log")"
  fi
  if example_tool simulate --settings "$SETTINGS" --policies "$POLICIES" --expect "$ACCESS" >"$WORK/simulate.log" 2>&1; then
    result ok "simulate --expect examples/tenants/access.json"
  else
    result FAIL "simulate --expect: $(cat "$WORK/simulate.log")"
  fi
  # Without the pool in the settings, the partner's definition is refused, naming it.
  if example_tool synth --policies "$POLICIES" --placeholder-assets --out "$WORK/unknown-pool" >"$WORK/unknown-pool.log" 2>&1; then
    result FAIL "synth accepted a definition of a pool the settings do not trust"
  elif grep -qF "\`partners:admin\` names pool \`partners:\`" "$WORK/unknown-pool.log"; then
    result ok "a definition of a pool the settings do not list is refused: $(head -n 1 "$WORK/unknown-pool.log")"
  else
    result FAIL "the refusal does not name the definition and pool: $(cat "$WORK/unknown-pool.log")"
  fi
  results tenants
}

# expect_status DESCRIPTION WANT METHOD PATH TOKEN
expect_status() {
  local description=$1 want=$2 method=$3 path=$4 token=$5 got
  got=$(curl -s -o "$WORK/body" --max-time 30 -w '%{http_code}' -X "$method" \
    -H "Authorization: Bearer $token" "$API_URL$path") || got=curl-failed
  if [ "$got" = "$want" ]; then
    result ok "$description: $method $path is $got"
  else
    result FAIL "$description: $method $path is $got, wanted $want ($(head -c 300 "$WORK/body"))"
  fi
}

# A user of a new pool that no setting names, in a group `admin`; prints the pool's id and the
# user's access token, from moto (boto3 is moto's own dependency in .venv).
stranger() {
  python3 - "$(json_get "$WORK/stack.json" local cognito_endpoint)" <<'PY'
import sys, boto3
idp = boto3.client("cognito-idp", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
pool = idp.create_user_pool(PoolName="strangers")["UserPool"]["Id"]
client = idp.create_user_pool_client(UserPoolId=pool, ClientName="strangers",
                                     ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
idp.create_group(UserPoolId=pool, GroupName="admin")
idp.admin_create_user(UserPoolId=pool, Username="mallory", MessageAction="SUPPRESS")
idp.admin_set_user_password(UserPoolId=pool, Username="mallory", Password="Str4nger!Passw0rd", Permanent=True)
idp.admin_add_user_to_group(UserPoolId=pool, Username="mallory", GroupName="admin")
auth = idp.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "mallory", "PASSWORD": "Str4nger!Passw0rd"})
print(pool, auth["AuthenticationResult"]["AccessToken"])
PY
}

local_stack() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  say "starting the local stack with the tenants' settings and policies (log: .local/logs/tenants-dev.log)"
  GROUPGATE_SETTINGS="$SETTINGS" GROUPGATE_POLICIES="$POLICIES" start_local_stack "$LOGS/tenants-dev.log" "$WORK/stack.json"
  API_URL=$(json_get "$WORK/stack.json" api_url)

  local admin partner machine pool token
  admin=$(stack_token "$WORK/stack.json" "$(stack_user "$WORK/stack.json" admin username)")
  partner=$(stack_token "$WORK/stack.json" "$(stack_user "$WORK/stack.json" partners:admin username)")
  machine=$(machine_token "$WORK/stack.json" petstore/status.read)

  say "the stack pool's admin and the partner pool's admin: one group name, two grants"
  expect_status "the stack pool's admin" 200 GET /petstore/v2/identity "$admin"
  expect_status "the partner pool's admin (its own v1 reads)" 200 GET /petstore/v1/pets "$partner"
  expect_status "the partner pool's admin (not the stack pool's admin grant)" 403 GET /petstore/v2/identity "$partner"
  expect_status "the partner pool's admin (not the stack pool's admin grant)" 403 POST /petstore/v1/pets "$partner"

  say "groupgate explain on the partner pool's token: checked against that pool, decided by its key"
  local explained
  explained=$(GROUPGATE_TOKEN=$partner example_tool explain --settings "$SETTINGS" --policies "$POLICIES" \
    --stack-file "$WORK/stack.json" --method GET --path /petstore/v1/pets 2>&1) || true
  if grep -qF "allowed by group \`partners:admin\`" <<<"$explained"; then
    result ok "explain: the partner's admin is allowed by \`partners:admin\`, as the authorizer decides"
  else
    result FAIL "explain on the partner's token: $explained"
  fi

  say "a machine client, by its scope"
  expect_status "a client with petstore/status.read" 200 GET /petstore/v2/status "$machine"
  expect_status "a client with petstore/status.read" 403 GET /petstore/v1/pets "$machine"

  say "a token of a pool no setting names"
  read -r pool token < <(stranger)
  expect_status "an admin of the unconfigured pool $pool" 401 GET /petstore/v1/pets "$token"
  # moto's server logs each request it serves: the stack's pools' keys were fetched, the
  # unconfigured pool's never were.
  if ! grep -qF "/$(json_get "$WORK/stack.json" user_pool_id)/.well-known/jwks.json" "$LOGS/moto.log"; then
    result FAIL "moto's log shows no key fetch at all: it cannot tell whether the unconfigured pool's keys were fetched"
  elif grep -qF "/$pool/.well-known/jwks.json" "$LOGS/moto.log"; then
    result FAIL "the authorizer fetched the keys of the unconfigured pool $pool"
  else
    result ok "no request for the unconfigured pool's keys (moto's log)"
  fi

  stop_local_stack
  results tenants
}

case "${1:-}" in
  offline) offline ;;
  local) local_stack ;;
  *) fail "usage: scripts/tenants.sh offline|local" ;;
esac
