#!/usr/bin/env bash
# The running local stack follows its policies folder: scripts/dev.sh started with
# GROUPGATE_POLICIES=DIR, a copy of policies/ that this script edits (never the repository's own
# files). A grant removed from a group file is refused within seconds for a token allowed
# before; an added, a broken and a removed file are each reported by dev.sh's sync line (kept in
# .local/logs/sync.log). Run by scripts/test.sh after the other local tests.
#
#   scripts/follow-smoke.sh DIR
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DIR=${1:-}
if [ -z "$DIR" ] || [ ! -d "$DIR" ]; then
  fail "usage: scripts/follow-smoke.sh DIR (the policies copy scripts/dev.sh watches)"
fi
DIR=$(cd "$DIR" && pwd)
[ "$DIR" != "$ROOT/policies" ] || fail "$DIR is the repository's own policies/: start scripts/dev.sh with GROUPGATE_POLICIES=a copy"
STACK_FILE=$(mktemp)
trap 'rm -f "$STACK_FILE"' EXIT
describe_stack "$STACK_FILE"
api=$(json_get "$STACK_FILE" api_url)
SYNC_LOG="$LOGS/sync.log"
touch "$SYNC_LOG"

# Waits up to 15 s for a sync line written after the last one seen that contains NEEDLE:
# synced NEEDLE DESCRIPTION
seen=$(wc -l <"$SYNC_LOG")
synced() {
  local needle=$1 description=$2 deadline=$((SECONDS + 15))
  until tail -n +"$((seen + 1))" "$SYNC_LOG" | grep -qF -- "$needle"; do
    if [ $SECONDS -ge $deadline ]; then
      result FAIL "$description: no sync line with '$needle' in 15 s; lines since: $(tail -n +"$((seen + 1))" "$SYNC_LOG")"
      return 0
    fi
    sleep 0.2
  done
  seen=$(wc -l <"$SYNC_LOG")
  result ok "$description: $(tail -n 1 "$SYNC_LOG" | cut -d' ' -f2-)"
}

# expect GOT WANT DESCRIPTION: the status GOT must be WANT.
expect() {
  if [ "$1" = "$2" ]; then result ok "$3"; else result FAIL "$3: $1, wanted $2"; fi
}

status() {
  curl -s -o /dev/null --max-time 30 -w '%{http_code}' -H "Authorization: Bearer $1" "$api$2" || echo curl-failed
}

# Removes every grant of PATH_SUFFIX from the group file FILE: without_grant FILE PATH_SUFFIX
without_grant() {
  python3 -c 'import json, sys
path, suffix = sys.argv[1:]
with open(path) as f:
    group = json.load(f)
for statement in group["policy"]["Statement"]:
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    statement["Resource"] = [r for r in resources if not r.endswith(suffix)]
with open(path, "w") as f:
    json.dump(group, f, indent=2)' "$@"
}

viewer=$(stack_user "$STACK_FILE" pet-viewer username)
token=$(stack_token "$STACK_FILE" "$viewer")
got=$(status "$token" /petstore/v2/status)
expect "$got" 200 "pet-viewer's token may GET /petstore/v2/status before the edit"

without_grant "$DIR/pet-viewer.json" /GET/petstore/v2/status
edited=$SECONDS
until [ "$(status "$token" /petstore/v2/status)" = 403 ] || [ $((SECONDS - edited)) -ge 10 ]; do sleep 0.2; done
got=$(status "$token" /petstore/v2/status)
expect "$got" 403 "the same token is refused $((SECONDS - edited)) s after the grant left the file"
synced "~pet-viewer" "an edited file"

sed -e 's/"pet-viewer"/"pet-groomer"/' "$DIR/pet-viewer.json" >"$DIR/pet-groomer.json.tmp"
mv "$DIR/pet-groomer.json.tmp" "$DIR/pet-groomer.json"
synced "+pet-groomer" "an added file"
groomer=$(groupgate local tokens --user pet-groomer@groupgate.local)
got=$(status "$groomer" /petstore/v1/pets)
expect "$got" 200 "the new group's demo user may GET /petstore/v1/pets"

sed -e 's/"pet-viewer"/"broken"/' -e 's/"Allow"/"Allo"/' "$DIR/pet-viewer.json" >"$DIR/broken.json.tmp"
mv "$DIR/broken.json.tmp" "$DIR/broken.json"
synced "broken.json\`: /policy: group \`broken\`: statement #0: \`Effect\`" "a broken file"
got=$(status "$groomer" /petstore/v1/pets)
expect "$got" 200 "the running policies are kept while a file is broken"
rm -f "$DIR/broken.json" "$DIR/pet-groomer.json"
synced "-pet-groomer" "a removed file (and the broken one fixed)"
got=$(status "$groomer" /petstore/v1/pets)
expect "$got" 403 "the removed group's token is refused"

results follow
