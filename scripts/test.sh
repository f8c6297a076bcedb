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
shellcheck scripts/*.sh .ci/run || fail "shellcheck"

say "all checks passed"
