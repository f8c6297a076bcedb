#!/usr/bin/env bash
# Runs the tests in named stages: formatting and lints, unit and emulator tests, the benchmarks'
# budgets, the templates, fuzzing, the policy toolbox, the docs, the scripts and workflows, the
# arm64 build, the rehearsals against moto, and the smoke tests against the local stack. Each
# stage installs what it needs, so any one of them runs alone on a fresh clone.
#
#   scripts/test.sh                 every stage, in order (what CI's `.ci/run` does)
#   scripts/test.sh STAGE...        only these stages, in the order given
#   scripts/test.sh --list          the stages and what each runs
#
# Ends with one line of counts and each stage's time; on failure, names the step and its log.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_all EXIT

STAGES=(lint unit bench templates fuzz toolbox docs pipeline build acceptance local)

describe() {
  case "$1" in
    lint) echo "cargo fmt --check, cargo clippy --workspace --all-targets -D warnings" ;;
    unit) echo "cargo test --workspace, with moto's server for the emulator tests" ;;
    bench) echo "the warm decision's instruction budget, memory held flat, cold starts (valgrind)" ;;
    templates) echo "the app, authorizer-only and bootstrap templates synthesized twice to the same bytes, cfn-lint, checkov; the SAM and CDK wiring examples" ;;
    fuzz) echo "each fuzz target for 10 s (scripts/fuzz.sh all 10)" ;;
    toolbox) echo "groupgate validate, simulate --expect deploy/access.json, a policy author adding a group (scripts/policy-author.sh), the clinic example API offline (scripts/clinic.sh offline), the tenants example offline (scripts/tenants.sh offline), the Cedar example offline (scripts/cedar.sh offline)" ;;
    docs) echo "the CLI reference is current, the README is a front page, the book builds (mdBook), no broken link" ;;
    pipeline) echo "shellcheck, actionlint, the workflow rules, the scripts' JSON readers, cache-trim, the deploy route" ;;
    build) echo "the arm64 Lambda zips and the tool (scripts/pipeline/build.sh), zipped twice to the same bytes" ;;
    acceptance) echo "the deploy rehearsal and the policy-only deploy rehearsal against moto" ;;
    local) echo "the local stack (scripts/dev.sh): smoke, deployed-smoke, browser CORS, explain and policy-follow tests; then the clinic example API on it (scripts/clinic.sh local), and a second pool and a machine client (scripts/tenants.sh local), and the Cedar example's policies (scripts/cedar.sh local)" ;;
    *) return 1 ;;
  esac
}

# Logs whose "N passed" / "N failed" counts make the closing line.
COUNTED=()

# The pinned Python tools (moto, cfn-lint, actionlint, shellcheck, ...), first on PATH.
python_tools() {
  ensure_venv
  export PATH="$VENV/bin:$PATH"
}

# Runs the operator's tool through cargo, failing with its log: tool LOG ARGS...
tool() {
  local log=$1
  shift
  cargo run --quiet -p groupgate-cli -- "$@" >"$log" 2>&1 || fail "groupgate $*" "$log"
}

stage_lint() {
  say "checking formatting (cargo fmt --check)"
  cargo fmt --all -- --check || fail "cargo fmt --check: run 'cargo fmt --all'"
  say "linting (cargo clippy --workspace --all-targets -- -D warnings)"
  cargo clippy --workspace --all-targets --quiet -- -D warnings || fail "cargo clippy"
}

stage_unit() {
  python_tools
  say "starting moto's server for the emulator tests"
  start_moto
  say "running the tests (cargo test --workspace)"
  local status
  set +e
  cargo test --workspace 2>&1 | tee "$LOGS/cargo-test.log" | grep -E '^(test result|error|failures|---- )|FAILED|panicked'
  status=${PIPESTATUS[0]}
  set -e
  COUNTED+=("$LOGS/cargo-test.log")
  [ "$status" -eq 0 ] || fail "cargo test --workspace" "$LOGS/cargo-test.log"
  say "running the authorizer's Cedar tests (cargo test -p authorizer --features cedar)"
  set +e
  cargo test -p authorizer --features cedar 2>&1 | tee "$LOGS/cargo-test-cedar.log" | grep -E '^(test result|error|failures|---- )|FAILED|panicked'
  status=${PIPESTATUS[0]}
  set -e
  COUNTED+=("$LOGS/cargo-test-cedar.log")
  [ "$status" -eq 0 ] || fail "cargo test -p authorizer --features cedar" "$LOGS/cargo-test-cedar.log"
}

stage_bench() {
  # The cold-start benchmark serves the JWKS and the policy table from moto.
  python_tools
  say "holding the warm decision path to its instruction budget (cargo bench -p authorizer --bench instructions)"
  command -v valgrind >/dev/null 2>&1 || apt_install valgrind "for the instruction-count benchmark"
  # The baseline was counted on this project's machine kind; a hosted runner's CPU takes other code
  # paths in aws-lc, so GitHub Actions reports the counts without holding them to it.
  [ "${GITHUB_ACTIONS:-}" = true ] && export GROUPGATE_BENCH_REPORT_ONLY=1
  cargo bench --quiet -p authorizer --bench instructions >"$LOGS/bench-instructions.log" 2>&1 ||
    fail "the instruction-count benchmark (over budget, or it could not run)" "$LOGS/bench-instructions.log"
  grep -E '^decision_(instructions|three_pools)' "$LOGS/bench-instructions.log" | sed 's/^/    /'
  say "holding the Cedar warm decision to 1.10x the IAM one (cargo bench -p authorizer --features cedar --bench instructions)"
  cargo bench --quiet -p authorizer --features cedar --bench instructions >"$LOGS/bench-instructions-cedar.log" 2>&1 ||
    fail "the Cedar instruction-count benchmark (over budget, or it could not run)" "$LOGS/bench-instructions-cedar.log"
  grep -E '^cedar_decision' "$LOGS/bench-instructions-cedar.log" | sed 's/^/    /'

  say "the release bootstrap under a local Runtime API: memory held flat, cold starts measured (cargo bench -p authorizer --bench memory, --bench coldstart)"
  cargo bench --quiet -p authorizer --bench memory >"$LOGS/bench-memory.log" 2>&1 ||
    fail "the memory benchmark (memory grows per invocation, or it could not run)" "$LOGS/bench-memory.log"
  grep -E '^\| (sequential|concurrent)|^memory_' "$LOGS/bench-memory.log" | sed 's/^/    /'
  cargo bench --quiet -p authorizer --bench coldstart >"$LOGS/bench-coldstart.log" 2>&1 ||
    fail "the cold-start benchmark could not run" "$LOGS/bench-coldstart.log"
  grep -E '^\| [0-9]|^coldstart_' "$LOGS/bench-coldstart.log" | sed 's/^/    /'
}

stage_templates() {
  python_tools
  say "synthesizing the app, authorizer-only and bootstrap templates and checking them with cfn-lint"
  tool "$LOGS/synth.log" synth --out "$ROOT/.local/synth" --placeholder-assets
  tool "$LOGS/synth-authorizer.log" synth --authorizer-only --out "$ROOT/.local/synth-authorizer" --placeholder-assets
  tool "$LOGS/synth-bootstrap.log" bootstrap --synth-only --out "$ROOT/.local/synth"
  # The app template with Cedar policies (examples/cedar): the authorizer's identity sources
  # hold the method and resource path, and it is told POLICY_LANGUAGE.
  tool "$LOGS/synth-cedar.log" synth --settings "$ROOT/examples/cedar/groupgate.toml" \
    --policies "$ROOT/examples/cedar/policies" --out "$ROOT/.local/synth-cedar" --placeholder-assets
  cfn-lint "$ROOT/.local/synth/template.json" "$ROOT/.local/synth/bootstrap.json" \
    "$ROOT/.local/synth-authorizer/template.json" "$ROOT/.local/synth-cedar/template.json" ||
    fail "cfn-lint found problems in the templates"

  say "synthesizing the templates again, later and into other folders: the same bytes"
  local again="$ROOT/.local/synth-again" first file
  rm -rf "$again" "$again-authorizer"
  # At least the next second on the clock, so that a timestamp in a template would show.
  first=$(date +%s)
  until [ "$(date +%s)" -gt "$first" ]; do sleep 0.1; done
  tool "$LOGS/synth-again.log" synth --out "$again" --placeholder-assets
  tool "$LOGS/synth-again.log" bootstrap --synth-only --out "$again"
  tool "$LOGS/synth-again.log" synth --authorizer-only --out "$again-authorizer" --placeholder-assets
  for file in "$again"/*; do
    cmp "$file" "$ROOT/.local/synth/${file##*/}" || fail "two synth runs of one commit wrote different ${file##*/}"
  done
  for file in "$again-authorizer"/*; do
    cmp "$file" "$ROOT/.local/synth-authorizer/${file##*/}" ||
      fail "two synth --authorizer-only runs of one commit wrote different ${file##*/}"
  done

  say "scanning the templates with checkov (offline; every skipped check carries its reason in the template)"
  ensure_checkov
  "$ROOT/.venv-checkov/bin/checkov" -f "$ROOT/.local/synth/template.json" -f "$ROOT/.local/synth/bootstrap.json" \
    -f "$ROOT/.local/synth-authorizer/template.json" -f "$ROOT/.local/synth-cedar/template.json" \
    --framework cloudformation --skip-download --compact --quiet >"$LOGS/checkov.log" 2>&1 ||
    fail "checkov found failed checks that are not skipped with a reason" "$LOGS/checkov.log"

  wiring_examples
}

# The SAM and CDK examples of attaching the authorizer-only stack to an API defined elsewhere.
wiring_examples() {
  local started=$SECONDS out="$ROOT/.local/synth-examples"
  mkdir -p "$out"
  say "the SAM example: cfn-lint, and the CloudFormation SAM's own translator makes of it, linted too"
  cfn-lint "$ROOT/examples/sam/template.yaml" || fail "cfn-lint found problems in examples/sam/template.yaml"
  # The translator inlines the parameter's default into `Fn::Sub`, which then has no variable (W1020).
  AWS_DEFAULT_REGION=us-east-1 python "$ROOT/scripts/sam-translate.py" "$ROOT/examples/sam/template.yaml" \
    >"$out/sam.json" 2>"$LOGS/sam-translate.log" || fail "the SAM transform refused examples/sam/template.yaml" "$LOGS/sam-translate.log"
  cfn-lint --ignore-checks W1020 -- "$out/sam.json" || fail "cfn-lint found problems in the SAM example's CloudFormation"

  say "the CDK example: npm ci (the lock file's pins), tsc, cdk synth, cfn-lint"
  use_node
  (
    cd "$ROOT/examples/cdk"
    export CDK_DISABLE_CLI_TELEMETRY=true
    # cdk.json runs the app with `node`: the same node as the rest.
    if [ "$NODE" != node ]; then export PATH="${NODE%/*}:$PATH"; fi
    npm_cli ci --cache "$ROOT/.local/npm-cache" --prefer-offline --no-audit --no-fund &&
      "$NODE" node_modules/typescript/bin/tsc &&
      "$NODE" node_modules/aws-cdk/bin/cdk synth --quiet --no-notices --output "$out/cdk.out"
  ) >"$LOGS/cdk-example.log" 2>&1 || fail "building the CDK example" "$LOGS/cdk-example.log"
  # W3005: the DependsOn on the function's role is CDK's own, beside its GetAtt.
  cfn-lint --ignore-checks W3005 -- "$out/cdk.out/GroupgateCdkExample.template.json" ||
    fail "cfn-lint found problems in the CDK example's template"
  say "the wiring examples took $((SECONDS - started)) s"
}

stage_fuzz() {
  say "fuzzing each target for a short smoke run (scripts/fuzz.sh all 10; long runs: scripts/fuzz.sh TARGET SECONDS)"
  "$ROOT/scripts/fuzz.sh" all 10 || fail "a fuzz target found a crash"
}

stage_toolbox() {
  say "the policy toolbox offline: groupgate validate, and the access matrix against deploy/access.json"
  tool "$LOGS/validate.log" validate
  tool "$LOGS/simulate.log" simulate --expect "$ROOT/deploy/access.json"
  say "a policy author's day: a group added to a copy of policies/ needs only the documented update (scripts/policy-author.sh)"
  "$ROOT/scripts/policy-author.sh" >"$LOGS/policy-author-run.log" 2>&1 ||
    fail "adding a group broke a check (scripts/policy-author.sh)" "$LOGS/policy-author-run.log"
  tail -n 1 "$LOGS/policy-author-run.log" | sed 's/^/    /'
  say "a second API, not the petstore, offline: synth, cfn-lint, a bad document refused, validate, simulate (scripts/clinic.sh offline)"
  "$ROOT/scripts/clinic.sh" offline 2>&1 | tee "$LOGS/clinic-offline.log" ||
    fail "the clinic example API (scripts/clinic.sh offline)" "$LOGS/clinic-offline.log"
  COUNTED+=("$LOGS/clinic-offline.log")
  say "a second trusted pool, offline: synth with USER_POOLS, cfn-lint, validate, simulate (scripts/tenants.sh offline)"
  "$ROOT/scripts/tenants.sh" offline 2>&1 | tee "$LOGS/tenants-offline.log" ||
    fail "the tenants example (scripts/tenants.sh offline)" "$LOGS/tenants-offline.log"
  COUNTED+=("$LOGS/tenants-offline.log")
  say "Cedar policies, offline: synth with Cedar's identity sources, cfn-lint, validate --strict, simulate --expect deploy/access.json (scripts/cedar.sh offline)"
  "$ROOT/scripts/cedar.sh" offline 2>&1 | tee "$LOGS/cedar-offline.log" ||
    fail "the Cedar example (scripts/cedar.sh offline)" "$LOGS/cedar-offline.log"
  COUNTED+=("$LOGS/cedar-offline.log")
}

stage_docs() {
  say "the CLI reference in docs/src/reference/cli.md matches the tool's --help (cargo test -p groupgate-cli --test cli_reference)"
  cargo test --quiet -p groupgate-cli --test cli_reference >"$LOGS/cli-reference.log" 2>&1 ||
    fail "docs/src/reference/cli.md is stale or the test could not run" "$LOGS/cli-reference.log"
  COUNTED+=("$LOGS/cli-reference.log")

  local lines
  lines=$(wc -l <"$ROOT/README.md")
  [ "$lines" -le 200 ] || fail "README.md has $lines lines: it is the front page (at most 200); move the rest into the book (docs/)"

  ensure_mdbook
  say "building the book (mdbook build docs; open .local/book/index.html)"
  "$MDBOOK" build "$ROOT/docs" >"$LOGS/mdbook.log" 2>&1 || fail "mdbook build docs" "$LOGS/mdbook.log"
  # mdBook renders a link to a missing chapter without complaint: its warnings are failures here.
  if grep -E '\b(WARN|ERROR)\b' "$LOGS/mdbook.log"; then fail "mdbook build warned" "$LOGS/mdbook.log"; fi

  say "checking the links of the README, CONTRIBUTING, CHANGELOG and the book (scripts/check-links.py)"
  python3 "$ROOT/scripts/check-links.py" --self-test >"$LOGS/links-self-test.log" 2>&1 ||
    fail "the link checker's self-test: it no longer catches a broken link" "$LOGS/links-self-test.log"
  python3 "$ROOT/scripts/check-links.py" --html "$ROOT/.local/book" || fail "broken links (each named above)"
}

stage_pipeline() {
  python_tools
  say "shellcheck on scripts/"
  shellcheck scripts/*.sh scripts/pipeline/*.sh .ci/run || fail "shellcheck"

  say "a group name is data, never code: lib.sh's JSON readers with a hostile name (scripts/hostile-names.sh)"
  "$ROOT/scripts/hostile-names.sh" >"$LOGS/hostile-names.log" 2>&1 ||
    fail "a script's JSON reader ran a group name as code, or read it wrong" "$LOGS/hostile-names.log"

  say "actionlint on .github/workflows"
  actionlint || fail "actionlint"

  say "the workflows: only main's deploy jobs can ask for the deploy role, they outlive the tool's longest wait, and actions are pinned by SHA (scripts/pipeline/check-workflows.py)"
  "$VENV/bin/python" "$ROOT/scripts/pipeline/check-workflows.py" || fail "scripts/pipeline/check-workflows.py"
  "$VENV/bin/python" "$ROOT/scripts/pipeline/check-workflows.py" --self-test >"$LOGS/check-workflows-self-test.log" 2>&1 ||
    fail "check-workflows.py --self-test: a broken rule went unnoticed" "$LOGS/check-workflows-self-test.log"

  say "which deploy a push to main gets: policy-only or full (scripts/pipeline/route.py --self-test)"
  python3 "$ROOT/scripts/pipeline/route.py" --self-test >"$LOGS/route-self-test.log" 2>&1 ||
    fail "scripts/pipeline/route.py --self-test" "$LOGS/route-self-test.log"
  COUNTED+=("$LOGS/route-self-test.log")

  say "the CI cache keeps the dependencies' artifacts only (scripts/pipeline/cache-trim.sh on a made-up profile)"
  local profile kept
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
}

stage_build() {
  say "building the arm64 Lambda zips (scripts/pipeline/build.sh)"
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu &&
    ! rustup target add aarch64-unknown-linux-gnu >"$LOGS/rustup.log" 2>&1; then
    say "SKIPPED the arm64 build: the aarch64-unknown-linux-gnu target cannot be installed here (see .local/logs/rustup.log); the rehearsals use stand-in zips"
    return 0
  fi
  "$ROOT/scripts/pipeline/build.sh" || fail "scripts/pipeline/build.sh"

  say "zipping the same binaries again, stamped a day later with another mode, as a rebuild would: the same zip bytes"
  local function binary
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
}

stage_acceptance() {
  say "the acceptance run against moto: bootstrap, deploy, unchanged redeploy, a policy change, a parameter set by hand, delete (scripts/acceptance.sh --moto)"
  "$ROOT/scripts/acceptance.sh" --moto >"$LOGS/acceptance.log" 2>&1 || fail "the acceptance run against moto" "$LOGS/acceptance.log"
  tail -n 1 "$LOGS/acceptance.log" | sed 's/^/    /'

  say "the policy-only deploy against moto, as a push that changes only policies/ runs it (scripts/pipeline/policy-deploy-rehearsal.sh)"
  "$ROOT/scripts/pipeline/policy-deploy-rehearsal.sh" >"$LOGS/policy-deploy.log" 2>&1 ||
    fail "the policy-only deploy rehearsal against moto" "$LOGS/policy-deploy.log"
  tail -n 1 "$LOGS/policy-deploy.log" | sed 's/^/    /'
}

stage_local() {
  say "starting the local stack (scripts/dev.sh; log: .local/logs/dev.log) for the smoke tests"
  rm -f "$ROOT/.local/stack.json"
  # The browser test's page is served on this origin, which the local stack allows (CORS).
  local cors_port dev_pid deadline smoke_status=0 api_url cognito url
  # The stack follows a copy of policies/, which the follow smoke test edits.
  local policies="$ROOT/.local/follow-policies"
  rm -rf "$policies"
  cp -R "$ROOT/policies" "$policies"
  cors_port=$(free_port)
  GROUPGATE_POLICIES="$policies" GROUPGATE_CORS_ORIGINS="http://127.0.0.1:$cors_port" \
    spawn "$LOGS/dev.log" "$ROOT/scripts/dev.sh"
  dev_pid=$LAST_PID
  deadline=$((SECONDS + 1200))
  until [ -f "$ROOT/.local/stack.json" ]; do
    kill -0 "$dev_pid" 2>/dev/null || fail "scripts/dev.sh exited before the stack was ready" "$LOGS/dev.log"
    [ $SECONDS -lt $deadline ] || fail "the local stack was not ready within 20 minutes" "$LOGS/dev.log"
    sleep 1
  done
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

  # Last: it edits the stack's policies.
  say "the running stack follows its policies folder (scripts/follow-smoke.sh)"
  "$ROOT/scripts/follow-smoke.sh" "$policies" 2>&1 | tee "$LOGS/follow.log" || smoke_status=1
  COUNTED+=("$LOGS/smoke.log" "$LOGS/smoke-deployed.log" "$LOGS/browser.log" "$LOGS/explain.log" "$LOGS/follow.log")

  say "stopping the local stack with SIGTERM, as Ctrl-C would"
  kill -TERM "$dev_pid"
  for _ in $(seq 100); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$dev_pid" 2>/dev/null && fail "scripts/dev.sh did not stop on SIGTERM" "$LOGS/dev.log"
  for url in "$api_url/petstore/v2/status" "$cognito/moto-api/"; do
    curl -s -o /dev/null --max-time 2 "$url" && fail "$url still answers after scripts/dev.sh stopped" "$LOGS/dev.log"
  done
  [ "$smoke_status" -eq 0 ] || fail "smoke tests (logs: .local/logs/smoke.log, smoke-deployed.log, browser.log, explain.log, follow.log)"

  say "a second API on the local stack: the clinic example behind its own service (scripts/clinic.sh local)"
  "$ROOT/scripts/clinic.sh" local 2>&1 | tee "$LOGS/clinic-local.log" ||
    fail "the clinic example API on the local stack (scripts/clinic.sh local)" "$LOGS/clinic-local.log"
  COUNTED+=("$LOGS/clinic-local.log")

  say "a second pool and a machine client on the local stack: the tenants example (scripts/tenants.sh local)"
  "$ROOT/scripts/tenants.sh" local 2>&1 | tee "$LOGS/tenants-local.log" ||
    fail "the tenants example on the local stack (scripts/tenants.sh local)" "$LOGS/tenants-local.log"
  COUNTED+=("$LOGS/tenants-local.log")
  say "the local stack deciding with Cedar policies: the smoke tests (scripts/cedar.sh local)"
  "$ROOT/scripts/cedar.sh" local 2>&1 | tee "$LOGS/cedar-local.log" ||
    fail "the Cedar example on the local stack (scripts/cedar.sh local)" "$LOGS/cedar-local.log"
  COUNTED+=("$LOGS/cedar-local.log")
}

# mdBook, pinned: the one on PATH when it is that version, else installed into .local/tools.
MDBOOK_VERSION=0.5.4
ensure_mdbook() {
  MDBOOK=$(command -v mdbook || true)
  if [ -n "$MDBOOK" ] && [ "$("$MDBOOK" --version)" = "mdbook v$MDBOOK_VERSION" ]; then return 0; fi
  MDBOOK="$ROOT/.local/tools/bin/mdbook"
  [ -x "$MDBOOK" ] && [ "$("$MDBOOK" --version)" = "mdbook v$MDBOOK_VERSION" ] && return 0
  say "installing mdBook $MDBOOK_VERSION into .local/tools (a few minutes, once; log: .local/logs/mdbook-install.log)"
  cargo install mdbook --locked --version "$MDBOOK_VERSION" --no-default-features --features search \
    --root "$ROOT/.local/tools" >"$LOGS/mdbook-install.log" 2>&1 || fail "cargo install mdbook" "$LOGS/mdbook-install.log"
}

case "${1:-}" in
  --list)
    for stage in "${STAGES[@]}"; do printf '%-11s %s\n' "$stage" "$(describe "$stage")"; done
    exit 0
    ;;
  -h | --help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
chosen=("$@")
[ $# -gt 0 ] || chosen=("${STAGES[@]}")
for stage in "${chosen[@]}"; do
  describe "$stage" >/dev/null || fail "unknown stage \`$stage\` (scripts/test.sh --list names them: ${STAGES[*]})"
done

# A clean clone builds about 9 GB under target/ for every stage, plus the fuzz build and the two venvs.
[ $# -gt 0 ] || need_disk 12 "a clean run of every test"

times=()
for stage in "${chosen[@]}"; do
  say "stage $stage: $(describe "$stage")"
  started=$SECONDS
  "stage_$stage"
  # What a stage started is stopped, and forgotten: a later stage starts its own moto.
  stop_all
  unset MOTO_ENDPOINT MOTO_PORT
  times+=("$stage $((SECONDS - started))s")
  say "stage $stage passed in $((SECONDS - started)) s"
done

# One closing line for the run, from cargo's and the smoke tests' own counts.
python3 - "${COUNTED[@]}" <<'PY'
import re, sys
text = "".join(open(path).read() for path in sys.argv[1:])
passed = sum(int(n) for n in re.findall(r"(\d+) passed", text))
failed = sum(int(n) for n in re.findall(r"(\d+) failed", text))
print(f"test.sh: {passed} passed, {failed} failed", end="")
PY
joined=$(printf '%s, ' "${times[@]}")
printf ' (%s)\n' "${joined%, }"
