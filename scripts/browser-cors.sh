#!/usr/bin/env bash
# CORS in a real browser, headless, against the running local stack. Start the stack with an
# allowed origin on 127.0.0.1 first, for example:
#
#   GROUPGATE_CORS_ORIGINS=http://127.0.0.1:8321 scripts/dev.sh
#   scripts/browser-cors.sh
#
# Serves a page on that origin and one on another port, and has Chromium call the API from both
# with a demo user's token (scripts/browser/cors.mjs). Uses $CHROMIUM, else google-chrome or
# chromium from PATH (installing Debian's chromium when there is none), and playwright-core
# pinned in scripts/browser/package-lock.json (installed into .local/browser).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT

STACK_FILE="$ROOT/.local/browser/stack.json"
mkdir -p "$ROOT/.local/browser"
groupgate describe >"$STACK_FILE" 2>/dev/null ||
  fail "the local stack is not running: start it with GROUPGATE_CORS_ORIGINS=http://127.0.0.1:PORT scripts/dev.sh"
allowed=$(sed -n 's/^CORS_ORIGINS=//p' "$ROOT/.local/functions.env" | cut -d, -f1)
case "$allowed" in
  http://127.0.0.1:*) allowed_port=${allowed##*:} ;;
  *) fail "the local stack allows no http://127.0.0.1:PORT origin (CORS_ORIGINS='$allowed'); restart it with GROUPGATE_CORS_ORIGINS=http://127.0.0.1:PORT" ;;
esac

# GitHub's runners have Google Chrome; here it is Debian's chromium.
browser=${CHROMIUM:-$(command -v google-chrome || command -v chromium || true)}
if [ -z "$browser" ]; then
  apt_install chromium "to drive the browser checks"
  browser=$(command -v chromium)
fi
command -v node >/dev/null || fail "Node.js is needed to drive the browser (apt-get install nodejs)"

NODE_DIR="$ROOT/.local/browser"
if ! cmp -s scripts/browser/package-lock.json "$NODE_DIR/package-lock.json"; then
  say "installing playwright-core (pinned in scripts/browser/package-lock.json) into .local/browser"
  mkdir -p "$NODE_DIR"
  cp scripts/browser/package.json scripts/browser/package-lock.json "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$LOGS/npm-browser.log" 2>&1 ||
    fail "npm ci of playwright-core" "$LOGS/npm-browser.log"
fi
cp scripts/browser/cors.mjs "$NODE_DIR/cors.mjs"

PAGES="$ROOT/.local/browser/pages"
mkdir -p "$PAGES"
printf '<!doctype html><title>groupgate CORS check</title><p>A page of an app calling the API.</p>\n' >"$PAGES/index.html"
other_port=$(free_port)
for port in "$allowed_port" "$other_port"; do
  spawn "$LOGS/pages-$port.log" python3 -m http.server "$port" --bind 127.0.0.1 --directory "$PAGES"
  wait_http "http://127.0.0.1:$port/index.html" 30 "the page server on $port" "$LOGS/pages-$port.log" "$LAST_PID"
done

api=$(json_get "$STACK_FILE" api_url)
vet=$(stack_user "$STACK_FILE" pet-veterinarian username)
token=$(stack_token "$STACK_FILE" "$vet") || fail "no token for $vet"
say "headless $("$browser" --version 2>/dev/null | head -n1): pages on $allowed (allowed) and http://127.0.0.1:$other_port (not)"
node "$NODE_DIR/cors.mjs" "$browser" "$api" "$token" \
  "http://127.0.0.1:$allowed_port/index.html" "http://127.0.0.1:$other_port/index.html"
