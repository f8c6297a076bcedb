#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and emulator tests, template and workflow checks, and
# the smoke tests against the local stack. Installs what it needs first.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT

ensure_venv
export PATH="$VENV/bin:$PATH"

say "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check || fail "cargo fmt --check: run 'cargo fmt --all'"

say "linting (cargo clippy --workspace --all-targets -- -D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings || fail "cargo clippy"

say "starting moto's server for the emulator tests"
start_moto

say "running the tests (cargo test --workspace)"
cargo test --workspace 2>&1 | tee "$LOGS/cargo-test.log" | grep -E '^(test result|running|error|failures|---- )|FAILED|panicked' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "cargo test --workspace" "$LOGS/cargo-test.log"

say "synthesizing the template and checking it with cfn-lint"
cargo run --quiet -p deploy -- synth --out "$ROOT/.local/synth" --placeholder-assets >/dev/null \
  || fail "cargo run -p deploy -- synth"
cfn-lint "$ROOT/.local/synth/template.json" || fail "cfn-lint found problems in the template"

say "shellcheck on scripts/"
shellcheck scripts/*.sh scripts/pipeline/*.sh .ci/run || fail "shellcheck"

say "starting the local stack (scripts/dev.sh; log: .local/logs/dev.log) for the smoke tests"
rm -f "$ROOT/.local/stack.json"
spawn "$LOGS/dev.log" "$ROOT/scripts/dev.sh"
DEV_PID=$LAST_PID
deadline=$((SECONDS + 1200))
until [ -f "$ROOT/.local/stack.json" ]; do
  kill -0 "$DEV_PID" 2>/dev/null || fail "scripts/dev.sh exited before the stack was ready" "$LOGS/dev.log"
  [ $SECONDS -lt $deadline ] || fail "the local stack was not ready within 20 minutes" "$LOGS/dev.log"
  sleep 1
done
smoke_status=0
"$ROOT/scripts/smoke.sh" | tee "$LOGS/smoke.log" || smoke_status=$?
api_url=$(json_get "$ROOT/.local/stack.json" 's["api_url"]')
cognito=$(json_get "$ROOT/.local/stack.json" 's["cognito_endpoint"]')

say "stopping the local stack with SIGTERM, as Ctrl-C would"
kill -TERM "$DEV_PID"
for _ in $(seq 100); do kill -0 "$DEV_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$DEV_PID" 2>/dev/null && fail "scripts/dev.sh did not stop on SIGTERM" "$LOGS/dev.log"
for url in "$api_url/petstore/v2/status" "$cognito/moto-api/"; do
  curl -s -o /dev/null --max-time 2 "$url" && fail "$url still answers after scripts/dev.sh stopped" "$LOGS/dev.log"
done
[ "$smoke_status" -eq 0 ] || fail "smoke tests" "$LOGS/smoke.log"

# One closing line for the whole run, from cargo's and the smoke tests' own counts.
python3 - "$LOGS/cargo-test.log" "$LOGS/smoke.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read() + open(sys.argv[2]).read()
passed = sum(int(n) for n in re.findall(r"(\d+) passed", text))
failed = sum(int(n) for n in re.findall(r"(\d+) failed", text))
print(f"test.sh: {passed} passed, {failed} failed")
PY
