#!/usr/bin/env bash
# Starts the whole product on this machine, no AWS account and no Docker needed:
#   moto's server (Cognito, DynamoDB, STS, IAM) provisioned from the stack definition and policies/,
#   both functions under `cargo lambda watch` (rebuilt as you edit), and a local API Gateway in
#   front of them. Writes the stack's description to .local/stack.json once it answers (what
#   `groupgate describe` prints, from any folder of the checkout), prints a ready-to-paste curl and
#   how to run the tool, and runs until Ctrl-C (or SIGTERM), then stops everything it started
#   and removes the description. While it runs it follows the policies folder: each change to
#   a group file (checked every second) runs `groupgate local sync`, which prints one line of
#   what changed (or the validation error, leaving the running policies as they were); the
#   functions are not restarted.
#
# Environment:
#   GROUPGATE_POLICIES=DIR              the group definitions (default: the checkout's policies/);
#                                       the smoke tests edit a copy, never the repository's files.
#   GROUPGATE_API=FILE                  the API's OpenAPI document (default: deploy/groupgate.toml's
#                                       `api`, the petstore's api/petstore.yaml): its routes, which
#                                       need no token, and where each goes (the backend function,
#                                       or an http_proxy URL of a service you run).
#   GROUPGATE_SETTINGS=FILE             another settings file than deploy/groupgate.toml; each of
#                                       its `[[pools]]` gets a pool of its own in moto, with a demo
#                                       user per group of its (scripts/tenants.sh uses it); with
#                                       `policy_language = "cedar"` the authorizer is built with
#                                       its `cedar` feature (scripts/cedar.sh uses it).
# And each overriding deploy/groupgate.toml as the same `synth` flag would:
#   GROUPGATE_ASSUME_GROUP_ROLE=false   the backend acts with its own credentials;
#   GROUPGATE_AUTHORIZER_TTL=SECONDS    the gateway's authorizer cache TTL;
#   GROUPGATE_CORS_ORIGINS=O1,O2        browser origins allowed to call the API (CORS).
# And for load tests (scripts/load.sh sets them):
#   GROUPGATE_RELEASE=1                 optimised builds: the functions as they ship, the gateway
#                                       and tool with the pipeline's `tool` profile;
#   GROUPGATE_INSTANCES=N               up to N instances of each function, as Lambda scales out
#                                       (cargo lambda watch --concurrency; default 1).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

STACK_FILE="$ROOT/.local/stack.json"
rm -f "$STACK_FILE"
# The description says the stack is running: it goes with the stack.
trap 'stop_all; rm -f "$STACK_FILE" "$ROOT/.local/stack.pending.json"' EXIT
trap 'say "stopping"; exit 0' INT TERM

ensure_venv
export PATH="$VENV/bin:$PATH"
POLICIES_DIR=$(cd "${GROUPGATE_POLICIES:-$ROOT/policies}" && pwd) ||
  fail "GROUPGATE_POLICIES: no folder ${GROUPGATE_POLICIES:-}"
export GROUPGATE_POLICIES="$POLICIES_DIR"
if [ -n "${GROUPGATE_SETTINGS:-}" ]; then
  [ -f "$GROUPGATE_SETTINGS" ] || fail "GROUPGATE_SETTINGS: no file $GROUPGATE_SETTINGS"
  GROUPGATE_SETTINGS="$(cd "$(dirname "$GROUPGATE_SETTINGS")" && pwd)/$(basename "$GROUPGATE_SETTINGS")"
  export GROUPGATE_SETTINGS
  say "with the settings of $GROUPGATE_SETTINGS"
fi
if [ -n "${GROUPGATE_API:-}" ]; then
  [ -f "$GROUPGATE_API" ] || fail "GROUPGATE_API: no file $GROUPGATE_API"
  GROUPGATE_API="$(cd "$(dirname "$GROUPGATE_API")" && pwd)/$(basename "$GROUPGATE_API")"
  export GROUPGATE_API
  say "serving the API of $GROUPGATE_API"
fi

if [ "${GROUPGATE_RELEASE:-0}" = 1 ]; then
  say "building the tool with the tool profile (optimised; log: .local/logs/build.log)"
  cargo build --profile tool -p groupgate-cli >"$LOGS/build.log" 2>&1 || fail "cargo build --profile tool -p groupgate-cli" "$LOGS/build.log"
  TOOL="$ROOT/target/tool/groupgate"
  watch_flags=(--release)
else
  say "building the workspace (the first build takes a few minutes; log: .local/logs/build.log)"
  cargo build --workspace >"$LOGS/build.log" 2>&1 || fail "cargo build --workspace" "$LOGS/build.log"
  TOOL="$ROOT/target/debug/groupgate"
  watch_flags=()
fi

say "starting moto's server (log: .local/logs/moto.log)"
start_moto

GATEWAY_PORT=$(free_port)
WATCH_PORT=$(free_port)
API_URL="http://127.0.0.1:$GATEWAY_PORT/prod"
say "provisioning moto from the stack definition and $POLICIES_DIR (log: .local/logs/provision.log)"
settings_flags=()
[ -n "${GROUPGATE_ASSUME_GROUP_ROLE:-}" ] && settings_flags+=(--assume-group-role "$GROUPGATE_ASSUME_GROUP_ROLE")
[ -n "${GROUPGATE_AUTHORIZER_TTL:-}" ] && settings_flags+=(--authorizer-ttl "$GROUPGATE_AUTHORIZER_TTL")
IFS=, read -r -a cors_origins <<<"${GROUPGATE_CORS_ORIGINS:-}"
for origin in "${cors_origins[@]}"; do settings_flags+=(--cors-origin "$origin"); done
"$TOOL" local provision --endpoint "$MOTO_ENDPOINT" --api-url "$API_URL" \
  --out "$ROOT/.local/stack.pending.json" --env-file "$ROOT/.local/functions.env" \
  --policies "$POLICIES_DIR" "${settings_flags[@]}" >"$LOGS/provision.log" 2>&1 || fail "provisioning moto" "$LOGS/provision.log"
if [ -n "${GROUPGATE_INSTANCES:-}" ]; then
  watch_flags+=(--concurrency "$GROUPGATE_INSTANCES")
fi

# The authorizer links Cedar only with its `cedar` feature: built with it exactly when the
# settings say `policy_language = "cedar"` (an authorizer without it refuses to start then).
language=$("$TOOL" settings get policy_language 2>"$LOGS/settings.log") ||
  fail "groupgate settings get policy_language" "$LOGS/settings.log"
case $language in
  iam) ;;
  cedar) watch_flags+=(--features authorizer/cedar) ;;
  *) fail "groupgate settings get policy_language printed \`$language\`, neither iam nor cedar" ;;
esac

say "starting cargo lambda watch for the authorizer ($language policies) and backend (log: .local/logs/watch.log)"
spawn "$LOGS/watch.log" cargo lambda watch "${watch_flags[@]}" --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" \
  --env-file "$ROOT/.local/functions.env"
WATCH_PID=$LAST_PID
wait_http "http://127.0.0.1:$WATCH_PORT/" 300 "cargo lambda watch" "$LOGS/watch.log" "$WATCH_PID"

say "warming up both functions (waits for cargo lambda to build them)"
invoke() {
  curl -s --max-time 600 -o "$LOGS/warmup-$1.json" -w '%{http_code}' -X POST \
    "http://127.0.0.1:$WATCH_PORT/2015-03-31/functions/$1/invocations" -d @"$2"
}
# A REQUEST event, as the stack's authorizer gets (a Cedar authorizer decides on its route and
# refuses a TOKEN event); its token is no token, so the answer is Unauthorized in either language.
status=$(invoke authorizer fixtures/events/authorizer-request.json) || true
grep -q '"Unauthorized"' "$LOGS/warmup-authorizer.json" 2>/dev/null ||
  fail "the authorizer did not answer a warm-up event as expected (HTTP $status)" "$LOGS/watch.log"
status=$(invoke backend fixtures/events/rest-proxy-status.json) || true
grep -q '"statusCode":200' "$LOGS/warmup-backend.json" 2>/dev/null ||
  fail "the backend did not answer a warm-up event as expected (HTTP $status)" "$LOGS/watch.log"

say "starting the local API gateway on $API_URL (log: .local/logs/gateway.log)"
spawn "$LOGS/gateway.log" "$TOOL" local gateway --port "$GATEWAY_PORT" \
  --invoke-url "http://127.0.0.1:$WATCH_PORT" "${settings_flags[@]}"
wait_http "$API_URL/" 30 "the local gateway" "$LOGS/gateway.log" "$LAST_PID"

mv "$ROOT/.local/stack.pending.json" "$STACK_FILE"
# What to try first, from the access matrix of this API and these policies: a group (the
# petstore's pet-veterinarian when there is one), a GET it may call and one it may not.
"$TOOL" simulate --format tsv --policies "$POLICIES_DIR" >"$LOGS/try.tsv" 2>"$LOGS/try.log" ||
  fail "groupgate simulate on $POLICIES_DIR" "$LOGS/try.log"
read -r try_group allowed_path denied_path < <(python3 -c 'import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["method"] == "GET"]
# The scopes of machine clients (scope:...) and the groups of other pools (prefix:group)
# have no demo user in the local pool: a person of this pool is tried.
groups = [g for g in dict.fromkeys(r["group"] for r in rows) if g != "(no group)" and ":" not in g]
paths = lambda g, d: [r["path"] for r in rows if r["group"] == g and r["decision"] == d]
groups.sort(key=lambda g: (g != "pet-veterinarian", not paths(g, "Allow"), not paths(g, "Deny")))
group = groups[0] if groups else "-"
print(group, (paths(group, "Allow") or ["-"])[0], (paths(group, "Deny") or ["-"])[0])' "$LOGS/try.tsv")
if [ -z "${try_group:-}" ] || [ "$try_group" = - ]; then
  fail "the policies in $POLICIES_DIR define no group to try the API with" "$LOGS/try.tsv"
fi
try_user=$(stack_user "$STACK_FILE" "$try_group" username)
token=$(stack_token "$STACK_FILE" "$try_user") ||
  fail "could not get a token for $try_user from Cognito (moto)"

tool=${TOOL#"$ROOT"/}
cat <<NEXT

groupgate: ready. \`$tool describe\` prints the stack's description (users and passwords
included), from any folder of this checkout.

  Try it as $try_user (group $try_group), with a fresh access token:

    curl -H "Authorization: Bearer $token" $API_URL$allowed_path

  The same user is refused $denied_path (403):

    curl -H "Authorization: Bearer $token" $API_URL$denied_path

  The tool, without cargo: $tool (or \`cargo install --path deploy/cli\` puts
  \`groupgate\` on your PATH). For example:

    $tool token --user admin@groupgate.local          # a fresh token for any demo user
    $tool explain --groups $try_group --method GET --path $denied_path
    $tool validate --table groupgate-local-policies   # policies/ against the running table
    $tool seed-policies --table groupgate-local-policies   # edited policies into the running table

  Edit the group files in $POLICIES_DIR: each change is applied within a second
  (\`$tool local sync\`), and one line says what changed. By hand:

    $tool local add-user --user someone@example.com --group $try_group
    $tool local tokens                                 # fresh tokens of the demo users
    $tool local flush                                  # empty the gateway's authorizer cache

  Run the smoke tests against this stack:  scripts/smoke.sh
  Logs are in .local/logs/. Press Ctrl-C to stop everything.

NEXT

# The policies folder's fingerprint: its group files' and Cedar policies' names and contents.
policies_fingerprint() {
  (
    cd "$POLICIES_DIR" || exit 0
    shopt -s nullglob
    files=(*.json *.cedar)
    [ "${#files[@]}" -gt 0 ] || exit 0
    printf '%s\n' "${files[@]}"
    cat -- "${files[@]}"
  ) | cksum
}

# Run until told to stop, or until a part dies; apply each change to the policies folder.
applied=$(policies_fingerprint)
while true; do
  for pid in "${SPAWNED[@]}"; do
    kill -0 "$pid" 2>/dev/null || fail "a background process ($pid) exited; see .local/logs/"
  done
  sleep 1
  current=$(policies_fingerprint)
  if [ "$current" != "$applied" ]; then
    # One line: what changed, or why nothing was (the tool's own error); never a stop. The
    # change counts as handled once the tool has judged it (applied, or refused as invalid);
    # any other failure (moto busy, a half-done sync) is tried again on the next tick.
    if out=$("$TOOL" local sync --policies "$POLICIES_DIR" 2>&1); then
      applied=$current
      say "$out"
    else
      case $out in *"policies not applied"*) applied=$current ;; esac
      say "${out#error: }"
    fi
    printf '%s %s\n' "$(date -u +%FT%TZ)" "$out" >>"$LOGS/sync.log"
  fi
done
