#!/usr/bin/env bash
# Regression test: a group name is data, never code. Feeds lib.sh's JSON readers (the ones
# smoke.sh, smoke-deployed.sh and the other scripts read stack descriptions with) a group named like Python that would create a marker file if anything evaluated it, and
# checks each reader returns the name as it is and the marker never appears. Needs only python3.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
marker="$WORK/code-ran"
# Closes the string and the list an evaluated lookup would build around it, and calls os.system.
hostile="x\"]+[__import__(\"os\").system(\"touch $marker\")]+[\""

python3 - "$WORK" "$hostile" <<'PY'
import json, sys
work, hostile = sys.argv[1:]
role = "arn:aws:iam::123456789012:role/groupgate/app/groups/"
with open(work + "/stack.json", "w") as f:
    json.dump({"api_url": "http://127.0.0.1:1",
               "group_role_arns": {"admin": role + "admin", hostile: role + "hostile"},
               "local": {"users": [{"username": "vet@example.com", "password": "p", "groups": ["pet-veterinarian"]},
                                   {"username": "hostile@example.com", "password": "p", "groups": [hostile]},
                                   {"username": "nobody@example.com", "password": "p", "groups": []}]}}, f)
PY

passed=0
failed=0
# expect DESCRIPTION WANTED_STATUS WANTED_OUTPUT -- COMMAND...: the command exits with
# WANTED_STATUS (0, or `fails`) and prints WANTED_OUTPUT (both streams), and no code ran.
expect() {
  local description=$1 want_status=$2 want=$3 got status=0
  shift 4
  got=$("$@" 2>&1) || status=fails
  if [ -e "$marker" ]; then
    printf 'FAIL %s: the group name ran as code\n' "$description"
    failed=$((failed + 1))
    rm -f "$marker"
  elif [ "$got" != "$want" ] || [ "$status" != "$want_status" ]; then
    printf 'FAIL %s: wanted %q (%s), got %q (%s)\n' "$description" "$want" "$want_status" "$got" "$status"
    failed=$((failed + 1))
  else
    printf 'ok   %s\n' "$description"
    passed=$((passed + 1))
  fi
}

expect "the smoke test's user lookup finds the user of a hostile group" 0 hostile@example.com -- \
  stack_user "$WORK/stack.json" "$hostile" username
expect "a user lookup for a group nobody is in fails, naming it" fails \
  "groupgate: $WORK/stack.json has no user in exactly the group \`$hostile-other\` with a \`username\`" -- \
  stack_user "$WORK/stack.json" "$hostile-other" username
expect "the user in no group is found by an empty group" 0 nobody@example.com -- \
  stack_user "$WORK/stack.json" "" username
expect "a hostile group's role is read as a key" 0 "arn:aws:iam::123456789012:role/groupgate/app/groups/hostile" -- \
  json_get "$WORK/stack.json" group_role_arns "$hostile"
expect "a hostile key that is not there is an error that names it" fails \
  "groupgate: $WORK/stack.json has no \`$hostile\`" -- \
  json_get "$WORK/stack.json" "$hostile"
expect "an optional hostile key that is not there is empty" 0 "" -- \
  json_get_optional "$WORK/stack.json" local users 0 "$hostile"
expect "a list index is a step of its own" 0 vet@example.com -- \
  json_get "$WORK/stack.json" local users 0 username
expect "the deploy job's smoke test reads group names from the description as they are" 0 "admin
$hostile" -- json_keys "$WORK/stack.json" group_role_arns

# The class of the defect: no script hands Python an expression to evaluate, and none uses the
# shell's eval.
status=0
grep -nE '\b(eval|exec|compile)\(|(^|[;&|[:space:]])eval[[:space:]]' "$ROOT"/scripts/*.sh "$ROOT"/scripts/pipeline/*.sh ||
  status=$?
case $status in
  1) printf 'ok   no script evaluates code it builds\n'; passed=$((passed + 1)) ;;
  0) printf 'FAIL no script evaluates code it builds (the lines above do)\n'; failed=$((failed + 1)) ;;
  *) printf 'FAIL the scripts could not be searched for eval\n'; failed=$((failed + 1)) ;;
esac

printf 'hostile names: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
