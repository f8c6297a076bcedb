#!/usr/bin/env bash
# A second API, not the petstore, end to end: the clinic example (examples/clinic: an OpenAPI
# document with a public operation, a path parameter and `http_proxy` integrations that hand the
# caller's identity to the service in headers; its own groups and access matrix).
#
#   scripts/clinic.sh offline   synth + cfn-lint + checkov, a broken document refused before
#                               anything is written, validate --strict, simulate --expect
#   scripts/clinic.sh local     the local stack on the clinic's API (scripts/dev.sh with
#                               GROUPGATE_API and GROUPGATE_POLICIES) in front of
#                               scripts/upstream.py: every cell of the access matrix called, the
#                               identity headers the service received, a forged one overridden
#
# scripts/test.sh runs `offline` in its toolbox stage and `local` in its local stage.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT
ensure_venv
export PATH="$VENV/bin:$PATH"

EXAMPLE="$ROOT/examples/clinic"
API="$EXAMPLE/api.yaml"
POLICIES="$EXAMPLE/policies"
ACCESS="$EXAMPLE/access.json"
WORK="$ROOT/.local/clinic"
# The service's address, as the document's integrations name it.
UPSTREAM_PORT=18484

offline() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  say "synthesizing the clinic's stack and checking it with cfn-lint"
  synth_and_lint "$WORK" --api "$API" --policies "$POLICIES"
  ensure_checkov
  if "$ROOT/.venv-checkov/bin/checkov" -f "$WORK/synth/template.json" --framework cloudformation \
    --skip-download --compact --quiet >"$WORK/checkov.log" 2>&1; then
    result ok "checkov: every finding skipped with its reason (the public method's too)"
  else
    result FAIL "checkov: $(grep -E 'Check:|FAILED' "$WORK/checkov.log" | head -n 6)"
  fi
  # What the template says of the document: the public operation has no authorizer, the
  # identity mapping and the path parameter reach the integration and the method.
  if python3 - "$WORK/synth/template.json" <<'PY'; then
import json, sys
t = json.load(open(sys.argv[1]))["Resources"]
methods = {k: v["Properties"] for k, v in t.items() if v["Type"] == "AWS::ApiGateway::Method"}
assert sorted(methods) == ["ApiClinicHealthGet", "ApiClinicVisitsGet", "ApiClinicVisitsPost", "ApiClinicVisitsVisitIdGet"], sorted(methods)
health = methods["ApiClinicHealthGet"]
assert health["AuthorizationType"] == "NONE" and "AuthorizerId" not in health, health
one = methods["ApiClinicVisitsVisitIdGet"]
assert one["AuthorizationType"] == "CUSTOM", one
assert one["RequestParameters"] == {"method.request.path.visitId": True}, one
i = one["Integration"]
assert i["Type"] == "HTTP_PROXY" and i["Uri"] == "http://127.0.0.1:18484/visits/{id}", i
assert i["RequestParameters"]["integration.request.header.X-Caller-Sub"] == "context.authorizer.sub", i
assert i["RequestParameters"]["integration.request.path.id"] == "method.request.path.visitId", i
PY
    result ok "the template: a public method without the authorizer, the identity and path mappings"
  else
    result FAIL "the template does not say what the document says"
  fi

  say "a document API Gateway would refuse is refused before anything is written"
  sed 's/type: http_proxy/type: mock/' "$API" >"$WORK/broken.yaml"
  if example_tool synth --api "$WORK/broken.yaml" --policies "$POLICIES" --placeholder-assets --out "$WORK/broken-synth" >"$WORK/broken.log" 2>&1; then
    result FAIL "synth accepted an integration of type mock"
  elif grep -qF "broken.yaml\`: /paths/~1clinic~1visits/get/x-amazon-apigateway-integration/type: \`mock\`" "$WORK/broken.log" &&
    [ ! -e "$WORK/broken-synth" ]; then
    result ok "refused, naming the file, the pointer and the type: $(head -n 1 "$WORK/broken.log")"
  else
    result FAIL "the refusal does not name file, pointer and problem, or wrote files: $(cat "$WORK/broken.log")"
  fi

  say "validate --strict and simulate --expect on the clinic's policies"
  if example_tool validate --strict --api "$API" --policies "$POLICIES" >"$WORK/validate.log" 2>&1; then
    result ok "validate --strict: $(tail -n 1 "$WORK/validate.log")"
  else
    result FAIL "validate --strict: $(cat "$WORK/validate.log")"
  fi
  if example_tool simulate --api "$API" --policies "$POLICIES" --expect "$ACCESS" >"$WORK/simulate.log" 2>&1; then
    result ok "simulate --expect examples/clinic/access.json"
  else
    result FAIL "simulate --expect: $(cat "$WORK/simulate.log")"
  fi
  results clinic
}

# call METHOD PATH TOKEN [EXTRA CURL ARGS...]: prints the status; the body goes to $WORK/body.
call() {
  local method=$1 path=$2 token=$3
  shift 3
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  curl -s -o "$WORK/body" --max-time 30 -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$API_URL$path" || echo curl-failed
}

# The `sub` claim of a token (its payload is only read, never trusted, here).
sub_of() {
  python3 -c 'import base64, json, sys
payload = sys.argv[1].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])' "$1"
}

upstream_calls() { wc -l <"$WORK/upstream.jsonl"; }

# The last request the service received: its path, or the values of header NAME (lower case),
# comma-separated, so a header received twice shows both.
last_seen() {
  python3 -c 'import json, sys
line = open(sys.argv[1]).read().splitlines()[-1]
seen = json.loads(line)
print(seen["path"] if sys.argv[2] == "path" else ",".join(seen["headers"].get(sys.argv[2], [])))' "$WORK/upstream.jsonl" "$1"
}

# Every cell of the access matrix for one caller: check_caller GROUP TOKEN SUB
check_caller() {
  local group=$1 token=$2 sub=$3 route decision method template path want got before body
  while IFS=$'\t' read -r route decision; do
    method=${route%% *}
    template=${route#* }
    path=${template//\{visitId\}/v-42}
    want=403
    if [ "$decision" = Allow ]; then
      want=200
      [ "$method" = POST ] && want=201
    fi
    before=$(upstream_calls)
    body=()
    [ "$method" = POST ] && body=(-H 'Content-Type: application/json' --data-binary '{"pet": 7}')
    # A forged identity header: the integration's mapping must override it.
    got=$(call "$method" "$path" "$token" -H "X-Caller-Sub: forged" "${body[@]}")
    if [ "$got" != "$want" ]; then
      result FAIL "$group: $method $path: $got, wanted $want ($(head -c 300 "$WORK/body"))"
      continue
    fi
    if [ "$want" = 403 ]; then
      if [ "$(upstream_calls)" = "$before" ]; then
        result ok "$group: $method $path refused (403), never reaching the service"
      else
        result FAIL "$group: $method $path was refused but reached the service"
      fi
    elif [ "$template" = /clinic/health ]; then
      result ok "$group: $method $path ($got)"
    elif [ "$template" != "$path" ] && [ "$(last_seen path)" != /visits/v-42 ]; then
      result FAIL "$group: $method $path reached the service as $(last_seen path), wanted /visits/v-42 (the path parameter mapped into the URI)"
    elif [ "$(last_seen x-caller-sub)" = "$sub" ] && [ -n "$(last_seen x-caller-groups)" ]; then
      result ok "$group: $method $path ($got), the service saw $(last_seen path) from sub $sub in groups $(last_seen x-caller-groups), not the forged header"
    else
      result FAIL "$group: $method $path: the service saw X-Caller-Sub '$(last_seen x-caller-sub)', wanted $sub"
    fi
  done < <(python3 -c 'import json, sys
for route, decision in json.load(open(sys.argv[1]))["decisions"][sys.argv[2]].items():
    print(route + "\t" + decision)' "$ACCESS" "$group")
}

local_stack() {
  mkdir -p "$WORK"
  : >"$WORK/upstream.jsonl"
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$UPSTREAM_PORT/"; then
    fail "port $UPSTREAM_PORT is taken: the clinic's document sends its integrations there"
  fi
  say "starting the clinic's service (scripts/upstream.py on port $UPSTREAM_PORT)"
  spawn "$WORK/upstream.log" python3 "$ROOT/scripts/upstream.py" "$UPSTREAM_PORT" "$WORK/upstream.jsonl"
  wait_http "http://127.0.0.1:$UPSTREAM_PORT/health" 30 "the clinic's service" "$WORK/upstream.log" "$LAST_PID"
  : >"$WORK/upstream.jsonl"

  say "starting the local stack on the clinic's API (log: .local/logs/clinic-dev.log)"
  GROUPGATE_API="$API" GROUPGATE_POLICIES="$POLICIES" start_local_stack "$LOGS/clinic-dev.log" "$WORK/stack.json"
  API_URL=$(json_get "$WORK/stack.json" api_url)

  local got group user token
  got=$(call GET /clinic/health "")
  if [ "$got" = 200 ] && [ "$(last_seen path)" = /health ]; then
    result ok "GET /clinic/health without a token: 200 from the service (public: no authorizer)"
  else
    result FAIL "GET /clinic/health without a token: $got"
  fi
  got=$(call GET /clinic/visits "")
  if [ "$got" = 401 ]; then result ok "GET /clinic/visits without a token: 401"; else result FAIL "GET /clinic/visits without a token: $got, wanted 401"; fi

  for group in clinic-vet clinic-reception "(no group)"; do
    if [ "$group" = "(no group)" ]; then
      user=$(stack_user "$WORK/stack.json" "" username)
    else
      user=$(stack_user "$WORK/stack.json" "$group" username)
    fi
    token=$(stack_token "$WORK/stack.json" "$user")
    check_caller "$group" "$token" "$(sub_of "$token")"
  done

  stop_local_stack
  results clinic
}

case "${1:-}" in
  offline) offline ;;
  local) local_stack ;;
  *) fail "usage: scripts/clinic.sh offline|local" ;;
esac
