#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and emulator tests, template and workflow checks, and
# the smoke tests against the local stack. Installs what it needs first.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT

# A clean clone builds about 9 GB under target/, plus the fuzz build and the two venvs.
need_disk 12 "a clean run of every test"

ensure_venv
export PATH="$VENV/bin:$PATH"

say "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check || fail "cargo fmt --check: run 'cargo fmt --all'"

say "linting (cargo clippy --workspace --all-targets -- -D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings || fail "cargo clippy"

say "starting moto's server for the emulator tests"
start_moto

say "running the tests (cargo test --workspace)"
set +e
cargo test --workspace 2>&1 | tee "$LOGS/cargo-test.log" | grep -E '^(test result|error|failures|---- )|FAILED|panicked'
test_status=${PIPESTATUS[0]}
set -e
[ "$test_status" -eq 0 ] || fail "cargo test --workspace" "$LOGS/cargo-test.log"

say "holding the warm decision path to its instruction budget (cargo bench -p authorizer --bench instructions)"
command -v valgrind >/dev/null 2>&1 || apt_install valgrind "for the instruction-count benchmark"
# The baseline was counted on this project's machine kind; a hosted runner's CPU takes other code
# paths in aws-lc, so GitHub Actions reports the counts without holding them to it.
[ "${GITHUB_ACTIONS:-}" = true ] && export GROUPGATE_BENCH_REPORT_ONLY=1
cargo bench --quiet -p authorizer --bench instructions >"$LOGS/bench-instructions.log" 2>&1 ||
  fail "the instruction-count benchmark (over budget, or it could not run)" "$LOGS/bench-instructions.log"
grep -E '^decision_instructions' "$LOGS/bench-instructions.log" | sed 's/^/    /'

say "the release bootstrap under a local Runtime API: memory held flat, cold starts measured (cargo bench -p authorizer --bench memory, --bench coldstart)"
cargo bench --quiet -p authorizer --bench memory >"$LOGS/bench-memory.log" 2>&1 ||
  fail "the memory benchmark (memory grows per invocation, or it could not run)" "$LOGS/bench-memory.log"
grep -E '^\| (sequential|concurrent)|^memory_' "$LOGS/bench-memory.log" | sed 's/^/    /'
cargo bench --quiet -p authorizer --bench coldstart >"$LOGS/bench-coldstart.log" 2>&1 ||
  fail "the cold-start benchmark could not run" "$LOGS/bench-coldstart.log"
grep -E '^\| [0-9]|^coldstart_' "$LOGS/bench-coldstart.log" | sed 's/^/    /'

say "synthesizing the app and bootstrap templates and checking them with cfn-lint"
cargo run --quiet -p groupgate-cli -- synth --out "$ROOT/.local/synth" --placeholder-assets >/dev/null \
  || fail "cargo run -p groupgate-cli -- synth"
cargo run --quiet -p groupgate-cli -- bootstrap --synth-only --out "$ROOT/.local/synth" >/dev/null \
  || fail "cargo run -p groupgate-cli -- bootstrap --synth-only"
cfn-lint "$ROOT/.local/synth/template.json" "$ROOT/.local/synth/bootstrap.json" ||
  fail "cfn-lint found problems in the templates"

say "synthesizing both templates again, later and into another folder: the same bytes"
again="$ROOT/.local/synth-again"
rm -rf "$again"
# At least the next second on the clock, so that a timestamp in a template would show.
first=$(date +%s)
until [ "$(date +%s)" -gt "$first" ]; do sleep 0.1; done
cargo run --quiet -p groupgate-cli -- synth --out "$again" --placeholder-assets >/dev/null || fail "cargo run -p groupgate-cli -- synth (again)"
cargo run --quiet -p groupgate-cli -- bootstrap --synth-only --out "$again" >/dev/null || fail "cargo run -p groupgate-cli -- bootstrap --synth-only (again)"
for file in "$again"/*; do
  cmp "$file" "$ROOT/.local/synth/${file##*/}" || fail "two synth runs of one commit wrote different ${file##*/}"
done

say "scanning both templates with checkov (offline; every skipped check carries its reason in the template)"
ensure_checkov
"$ROOT/.venv-checkov/bin/checkov" -f "$ROOT/.local/synth/template.json" -f "$ROOT/.local/synth/bootstrap.json" \
  --framework cloudformation --skip-download --compact --quiet >"$LOGS/checkov.log" 2>&1 ||
  fail "checkov found failed checks that are not skipped with a reason" "$LOGS/checkov.log"

say "fuzzing each target for a short smoke run (scripts/fuzz.sh all 10; long runs: scripts/fuzz.sh TARGET SECONDS)"
"$ROOT/scripts/fuzz.sh" all 10 || fail "a fuzz target found a crash"

say "the policy toolbox offline: groupgate validate, and the access matrix against deploy/access.json"
cargo run --quiet -p groupgate-cli -- validate >"$LOGS/validate.log" 2>&1 || fail "groupgate validate" "$LOGS/validate.log"
cargo run --quiet -p groupgate-cli -- simulate --expect "$ROOT/deploy/access.json" >"$LOGS/simulate.log" 2>&1 ||
  fail "groupgate simulate --expect deploy/access.json" "$LOGS/simulate.log"

say "shellcheck on scripts/"
shellcheck scripts/*.sh scripts/pipeline/*.sh .ci/run || fail "shellcheck"

say "a group name is data, never code: lib.sh's JSON readers with a hostile name (scripts/hostile-names.sh)"
"$ROOT/scripts/hostile-names.sh" >"$LOGS/hostile-names.log" 2>&1 ||
  fail "a script's JSON reader ran a group name as code, or read it wrong" "$LOGS/hostile-names.log"

say "actionlint on .github/workflows"
actionlint || fail "actionlint"

say "the workflows: only main's deploy job can ask for the deploy role, and actions are pinned by SHA (scripts/pipeline/check-workflows.py)"
"$VENV/bin/python" "$ROOT/scripts/pipeline/check-workflows.py" || fail "scripts/pipeline/check-workflows.py"

say "the CI cache keeps the dependencies' artifacts only (scripts/pipeline/cache-trim.sh on a made-up profile)"
profile=$(mktemp -d)
mkdir -p "$profile/release/deps" "$profile/release/.fingerprint/groupgate-cli-0123456789abcdef" \
  "$profile/release/.fingerprint/serde-0123456789abcdef" "$profile/release/build/aws-lc-sys-0123456789abcdef/out" \
  "$profile/release/incremental/backend-x"
touch "$profile/release/authorizer" "$profile/release/authorizer.d" \
  "$profile/release/deps/"{libgroupgate_shared-0123456789abcdef.rlib,authorizer-0123456789abcdef,decision_table-0123456789abcdef.d} \
  "$profile/release/deps/"{libserde-0123456789abcdef.rlib,libserde-0123456789abcdef.rmeta,liblibc-0123456789abcdef.rlib}
"$ROOT/scripts/pipeline/cache-trim.sh" "$profile/release" >"$LOGS/cache-trim.log" 2>&1 || fail "cache-trim.sh" "$LOGS/cache-trim.log"
kept=$(cd "$profile/release" && find . -mindepth 2 -maxdepth 2 | sort | tr '\n' ' ')
rm -rf "$profile"
[ "$kept" = "./.fingerprint/serde-0123456789abcdef ./build/aws-lc-sys-0123456789abcdef ./deps/liblibc-0123456789abcdef.rlib ./deps/libserde-0123456789abcdef.rlib ./deps/libserde-0123456789abcdef.rmeta " ] ||
  fail "cache-trim.sh kept \`$kept\`: it must keep the dependencies' artifacts and nothing of the workspace's"

say "building the arm64 Lambda zips (scripts/pipeline/build.sh)"
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu ||
  rustup target add aarch64-unknown-linux-gnu >"$LOGS/rustup.log" 2>&1; then
  "$ROOT/scripts/pipeline/build.sh" || fail "scripts/pipeline/build.sh"

  say "zipping the same binaries again, stamped a day later with another mode, as a rebuild would: the same zip bytes"
  for function in authorizer backend; do
    sha256sum <"target/lambda/$function/bootstrap.zip" >"$ROOT/.local/$function-zip-before"
    binary="target/aarch64-unknown-linux-gnu/release/$function"
    touch -d "@$(($(date +%s) + 86400))" "$binary"
    chmod 0775 "$binary"
  done
  "$ROOT/scripts/pipeline/build.sh" --zips-only "$ROOT/.local/zips-again" >"$LOGS/zips-again.log" 2>&1 ||
    fail "scripts/pipeline/build.sh --zips-only" "$LOGS/zips-again.log"
  for function in authorizer backend; do
    chmod 0755 "target/aarch64-unknown-linux-gnu/release/$function"
    # cargo-lambda's own zip must have changed, or this check proves nothing.
    sha256sum <"target/lambda/$function/bootstrap.zip" | cmp -s - "$ROOT/.local/$function-zip-before" &&
      fail "cargo-lambda wrote the same $function zip for a binary with another mtime and mode: the check cannot tell"
    cmp "$ROOT/.local/zips-again/$function/bootstrap.zip" "$ROOT/dist/lambda/$function/bootstrap.zip" ||
      fail "the $function zip differs when its binary is zipped again (dist/ is not reproducible)"
  done
else
  say "SKIPPED the arm64 build: the aarch64-unknown-linux-gnu target cannot be installed here (see .local/logs/rustup.log); the rehearsal uses stand-in zips"
fi

say "the acceptance run against moto: bootstrap, deploy, unchanged redeploy, a policy change, a parameter set by hand, delete (scripts/acceptance.sh --moto)"
"$ROOT/scripts/acceptance.sh" --moto >"$LOGS/acceptance.log" 2>&1 || fail "the acceptance run against moto" "$LOGS/acceptance.log"
tail -n 1 "$LOGS/acceptance.log" | sed 's/^/    /'

say "starting the local stack (scripts/dev.sh; log: .local/logs/dev.log) for the smoke tests"
rm -f "$ROOT/.local/stack.json"
# The browser test's page is served on this origin, which the local stack allows (CORS).
cors_port=$(free_port)
GROUPGATE_CORS_ORIGINS="http://127.0.0.1:$cors_port" spawn "$LOGS/dev.log" "$ROOT/scripts/dev.sh"
DEV_PID=$LAST_PID
deadline=$((SECONDS + 1200))
until [ -f "$ROOT/.local/stack.json" ]; do
  kill -0 "$DEV_PID" 2>/dev/null || fail "scripts/dev.sh exited before the stack was ready" "$LOGS/dev.log"
  [ $SECONDS -lt $deadline ] || fail "the local stack was not ready within 20 minutes" "$LOGS/dev.log"
  sleep 1
done
smoke_status=0
"$ROOT/scripts/smoke.sh" | tee "$LOGS/smoke.log" || smoke_status=$?
describe_stack "$ROOT/.local/described.json"
api_url=$(json_get "$ROOT/.local/described.json" api_url)
cognito=$(json_get "$ROOT/.local/described.json" local cognito_endpoint)

say "running the pipeline's smoke step (scripts/pipeline/smoke-deployed.sh) against the local stack"
(
  # No STACK_NAME: the smoke step describes the running local stack; the AWS CLI's calls go
  # to its emulator.
  unset STACK_NAME
  export AWS_ENDPOINT_URL="$cognito"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  # As the deploy job runs it: the prebuilt tool from dist/ when the build made one.
  if [ -x "$ROOT/dist/groupgate" ]; then export GROUPGATE="$ROOT/dist/groupgate"; fi
  "$ROOT/scripts/pipeline/smoke-deployed.sh"
) 2>&1 | tee "$LOGS/smoke-deployed.log" || smoke_status=1

say "CORS in headless Chromium against the local stack (scripts/browser-cors.sh)"
"$ROOT/scripts/browser-cors.sh" 2>&1 | tee "$LOGS/browser.log" || smoke_status=1

say "groupgate explain against the local stack's real tokens (scripts/explain-smoke.sh)"
"$ROOT/scripts/explain-smoke.sh" 2>&1 | tee "$LOGS/explain.log" || smoke_status=1

say "stopping the local stack with SIGTERM, as Ctrl-C would"
kill -TERM "$DEV_PID"
for _ in $(seq 100); do kill -0 "$DEV_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$DEV_PID" 2>/dev/null && fail "scripts/dev.sh did not stop on SIGTERM" "$LOGS/dev.log"
for url in "$api_url/petstore/v2/status" "$cognito/moto-api/"; do
  curl -s -o /dev/null --max-time 2 "$url" && fail "$url still answers after scripts/dev.sh stopped" "$LOGS/dev.log"
done
[ "$smoke_status" -eq 0 ] || fail "smoke tests (logs: .local/logs/smoke.log, smoke-deployed.log, browser.log, explain.log)"

# One closing line for the whole run, from cargo's and the smoke tests' own counts.
python3 - "$LOGS/cargo-test.log" "$LOGS/smoke.log" "$LOGS/smoke-deployed.log" "$LOGS/browser.log" "$LOGS/explain.log" <<'PY'
import re, sys
text = "".join(open(path).read() for path in sys.argv[1:])
passed = sum(int(n) for n in re.findall(r"(\d+) passed", text))
failed = sum(int(n) for n in re.findall(r"(\d+) failed", text))
print(f"test.sh: {passed} passed, {failed} failed")
PY
