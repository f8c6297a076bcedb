#!/usr/bin/env bash
# The petstore with its access written in Cedar, end to end: the Cedar example (examples/cedar:
# the petstore's API and settings with `policy_language = "cedar"`, its *.cedar policies and its
# group definitions without policy).
#
#   scripts/cedar.sh offline  synth + cfn-lint (the authorizer's identity sources and
#                             POLICY_LANGUAGE), validate --strict, and simulate --expect
#                             deploy/access.json: the same access matrix as the IAM policies
#   scripts/cedar.sh local    the local stack with the example's settings and a copy of its
#                             policies (scripts/dev.sh with GROUPGATE_SETTINGS and
#                             GROUPGATE_POLICIES, so the authorizer is built with its `cedar`
#                             feature): the policy table holds the Cedar bundle, scripts/smoke.sh
#                             passes against it, and an edited .cedar file is followed
#
# scripts/test.sh runs `offline` in its toolbox stage and `local` in its local stage.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT
ensure_venv
export PATH="$VENV/bin:$PATH"

EXAMPLE="$ROOT/examples/cedar"
SETTINGS="$EXAMPLE/groupgate.toml"
POLICIES="$EXAMPLE/policies"
ACCESS="$ROOT/deploy/access.json"
WORK="$ROOT/.local/cedar"

offline() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  say "synthesizing the Cedar stack and checking it with cfn-lint"
  synth_and_lint "$WORK" --settings "$SETTINGS" --policies "$POLICIES"
  if python3 - "$WORK/synth/template.json" <<'PY'; then
import json, sys
t = json.load(open(sys.argv[1]))["Resources"]
sources = t["ApiAuthorizer"]["Properties"]["IdentitySource"]
assert sources == "method.request.header.Authorization, context.httpMethod, context.resourcePath", sources
variables = t["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
assert variables.get("POLICY_LANGUAGE") == "cedar", variables
groups = sorted(v["Properties"]["GroupName"] for v in t.values() if v["Type"] == "AWS::Cognito::UserPoolGroup")
assert groups == ["admin", "pet-veterinarian", "pet-viewer"], groups
assert "ResourceServerPetstore" in t and "MachineClient" in t
PY
    result ok "the template: the authorizer cached per token, method and resource path, told POLICY_LANGUAGE=cedar; the groups, roles, the scope's resource server and client"
  else
    result FAIL "the template does not say what the Cedar settings and definitions say"
  fi
  say "validate --strict and simulate --expect deploy/access.json on the Cedar policies"
  if example_tool validate --strict --settings "$SETTINGS" --policies "$POLICIES" >"$WORK/validate.log" 2>&1; then
    result ok "validate --strict: $(tail -n 1 "$WORK/validate.log")"
  else
    result FAIL "validate --strict: $(cat "$WORK/validate.log")"
  fi
  if example_tool simulate --settings "$SETTINGS" --policies "$POLICIES" --expect "$ACCESS" >"$WORK/simulate.log" 2>&1; then
    result ok "simulate --expect deploy/access.json: the Cedar policies give the IAM policies' matrix"
  else
    result FAIL "simulate --expect: $(cat "$WORK/simulate.log")"
  fi
  # A definition with an IAM policy in a Cedar folder is refused, naming it.
  mkdir -p "$WORK/with-policy"
  cp "$POLICIES"/* "$WORK/with-policy/"
  cp "$ROOT/policies/admin.json" "$WORK/with-policy/admin.json"
  if example_tool synth --settings "$SETTINGS" --policies "$WORK/with-policy" --placeholder-assets --out "$WORK/refused" >"$WORK/refused.log" 2>&1; then
    result FAIL "synth accepted a Cedar folder whose definition has an IAM policy"
  elif grep -qF "access is in the .cedar files" "$WORK/refused.log"; then
    result ok "a definition with a policy in a Cedar folder is refused: $(head -n 1 "$WORK/refused.log")"
  else
    result FAIL "the refusal does not say why: $(cat "$WORK/refused.log")"
  fi
  results cedar
}

local_stack() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  say "starting the local stack with the Cedar settings and policies (log: .local/logs/cedar-dev.log)"
  # A copy: the follow check below edits it, never the repository's files.
  cp -r "$POLICIES" "$WORK/policies"
  GROUPGATE_SETTINGS="$SETTINGS" GROUPGATE_POLICIES="$WORK/policies" start_local_stack "$LOGS/cedar-dev.log" "$WORK/stack.json"

  say "the policy table: the Cedar bundle, and the groups with their roles and no IAM policy"
  if python3 - "$(json_get "$WORK/stack.json" local dynamodb_endpoint)" "$(json_get "$WORK/stack.json" policy_table_name)" <<'PY'; then
import json, sys, boto3
table = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
items = {i["group"]["S"]: i for i in table.scan(TableName=sys.argv[2])["Items"]}
bundle = json.loads(items.pop("#cedar")["cedar"]["S"])
assert bundle["application"] == "petstore" and bundle["policies"], bundle
assert all("policy" not in i for i in items.values()), items
assert all("role_arn" in items[g] for g in ("admin", "pet-veterinarian", "pet-viewer")), items
PY
    result ok "the policy table holds the Cedar bundle, and group items with roles and no IAM policy"
  else
    result FAIL "the policy table is not what a Cedar deployment seeds"
  fi
  if grep -qF "the authorizer (cedar policies)" "$LOGS/cedar-dev.log"; then
    result ok "the authorizer was built with its cedar feature"
  else
    result FAIL "scripts/dev.sh did not build the authorizer with its cedar feature"
  fi

  say "the smoke tests against the Cedar stack (log: .local/logs/cedar-smoke.log)"
  if "$ROOT/scripts/smoke.sh" >"$LOGS/cedar-smoke.log" 2>&1; then
    result ok "scripts/smoke.sh: $(tail -n 1 "$LOGS/cedar-smoke.log")"
  else
    result FAIL "scripts/smoke.sh: $(grep -E '^FAIL' "$LOGS/cedar-smoke.log" | head -n 5) $(tail -n 1 "$LOGS/cedar-smoke.log")"
  fi

  say "an edited .cedar file is followed: pet-viewer loses the v2 status"
  local viewer token got edited
  viewer=$(stack_user "$WORK/stack.json" pet-viewer username)
  token=$(stack_token "$WORK/stack.json" "$viewer")
  status() {
    curl -s -o /dev/null --max-time 30 -w '%{http_code}' -H "Authorization: Bearer $1" "$(json_get "$WORK/stack.json" api_url)$2"
  }
  got=$(status "$token" /petstore/v2/status)
  if [ "$got" = 200 ]; then
    result ok "pet-viewer may GET /petstore/v2/status before the edit"
  else
    result FAIL "pet-viewer's GET /petstore/v2/status is $got before the edit, wanted 200"
  fi
  # The status action leaves pet-viewer's list (the entry before it loses its comma).
  python3 - "$WORK/policies/pet-viewer.cedar" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
edited = re.sub(r',\s*petstore::Action::"get /petstore/v2/status"', "", text)
assert edited != text, "no v2 status action in " + path
open(path, "w").write(edited)
PY
  edited=$SECONDS
  until [ "$(status "$token" /petstore/v2/status)" = 403 ] || [ $((SECONDS - edited)) -ge 15 ]; do sleep 0.2; done
  got=$(status "$token" /petstore/v2/status)
  if [ "$got" = 403 ]; then
    result ok "the same token is refused $((SECONDS - edited)) s after the edit (local sync: $(tail -n 1 "$LOGS/sync.log" 2>/dev/null))"
  else
    result FAIL "pet-viewer's GET /petstore/v2/status is $got after the edit, wanted 403; $(tail -n 3 "$LOGS/sync.log" 2>/dev/null)"
  fi

  stop_local_stack
  results cedar
}

case "${1:-}" in
  offline) offline ;;
  local) local_stack ;;
  *) fail "usage: scripts/cedar.sh offline|local" ;;
esac
