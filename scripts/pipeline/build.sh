#!/usr/bin/env bash
# Builds both Lambdas for arm64 (provided.al2023) as zips with cargo-lambda, and prints their
# sizes. Adds the aarch64 target and installs cargo-lambda and Zig (into .venv) when missing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_venv
export PATH="$VENV/bin:$PATH"

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  say "adding the aarch64-unknown-linux-gnu target"
  rustup target add aarch64-unknown-linux-gnu >"$LOGS/rustup.log" 2>&1 || fail "rustup target add" "$LOGS/rustup.log"
fi
say "building the authorizer and backend for arm64 (log: .local/logs/lambda-build.log)"
cargo lambda build --release --arm64 --output-format zip -p authorizer -p backend \
  >"$LOGS/lambda-build.log" 2>&1 || fail "cargo lambda build" "$LOGS/lambda-build.log"
for function in authorizer backend; do
  zip="target/lambda/$function/bootstrap.zip"
  [ -f "$zip" ] || fail "$zip was not written"
  say "$zip: $(stat -c %s "$zip") bytes"
done
