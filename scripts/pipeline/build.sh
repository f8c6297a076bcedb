#!/usr/bin/env bash
# Builds what the deploy job needs, with no AWS credentials in sight, into dist/:
#   dist/lambda/{authorizer,backend}/bootstrap.zip   the arm64 (provided.al2023) Lambda zips
#   dist/groupgate                                   the operator's tool for the runner (x86_64)
#   dist/synth/{template,assets}.json                the template those zips make, for review
# Adds the aarch64 target and installs cargo-lambda and Zig (into .venv) when missing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_venv
export PATH="$VENV/bin:$PATH"
DIST="$ROOT/dist"

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  say "adding the aarch64-unknown-linux-gnu target"
  rustup target add aarch64-unknown-linux-gnu >"$LOGS/rustup.log" 2>&1 || fail "rustup target add" "$LOGS/rustup.log"
fi
say "building the authorizer and backend for arm64 (log: .local/logs/lambda-build.log)"
cargo lambda build --release --locked --arm64 --output-format zip -p authorizer -p backend \
  >"$LOGS/lambda-build.log" 2>&1 || fail "cargo lambda build" "$LOGS/lambda-build.log"
say "building the groupgate tool (log: .local/logs/groupgate-build.log)"
cargo build --profile tool --locked -p groupgate-cli >"$LOGS/groupgate-build.log" 2>&1 ||
  fail "cargo build --profile tool -p groupgate-cli" "$LOGS/groupgate-build.log"

rm -rf "$DIST"
mkdir -p "$DIST/lambda"
for function in authorizer backend; do
  zip="target/lambda/$function/bootstrap.zip"
  [ -f "$zip" ] || fail "$zip was not written"
  mkdir -p "$DIST/lambda/$function"
  cp "$zip" "$DIST/lambda/$function/bootstrap.zip"
  say "$zip: $(stat -c %s "$zip") bytes"
done
cp target/tool/groupgate "$DIST/groupgate"
"$DIST/groupgate" synth --out "$DIST/synth" --assets "$DIST/lambda" >/dev/null || fail "groupgate synth"
say "dist/ holds the zips, the groupgate tool and the synthesized template"
