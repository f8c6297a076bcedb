#!/usr/bin/env bash
# Builds what the deploy job needs, with no AWS credentials in sight, into dist/:
#   dist/lambda/{authorizer,backend}/bootstrap.zip   the arm64 (provided.al2023) Lambda zips
#   dist/groupgate                                   the operator's tool for the runner (x86_64)
#   dist/synth/{template,assets}.json                the template those zips make, for review
# Adds the aarch64 target and installs cargo-lambda and Zig (into .venv) when missing. The
# authorizer is built with its `cedar` feature exactly when the deployment's settings say
# `policy_language = "cedar"` (GROUPGATE_SETTINGS, else deploy/groupgate.toml), as the tool
# itself reads them (`groupgate settings get policy_language`).
#
#   scripts/pipeline/build.sh                 # all of dist/
#   scripts/pipeline/build.sh --zips-only DIR # only the zips, into DIR/<function>/bootstrap.zip
#
# The zips are reproducible: the same commit built again, in another checkout or on another day,
# gives the same bytes, so the same content-addressed S3 keys, and a deploy of an unchanged
# commit changes no function. Two things stood in the way: the paths of the checkout and of
# cargo's home, which rustc writes into the binaries (panic locations of dependencies, generated
# code), are remapped below; and cargo-lambda stamps each zip entry with the binary's mtime and
# mode, so the zips are rewritten by normalize-zip.py. rustc writes no timestamps, and no build
# script of these crates reads the clock or SOURCE_DATE_EPOCH.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

zips_only=""
case "${1:-}" in
  "") ;;
  --zips-only) zips_only=${2:?--zips-only needs a folder} ;;
  *) fail "unknown argument \`$1\` (see the top of $0)" ;;
esac

ensure_venv
export PATH="$VENV/bin:$PATH"
DIST="$ROOT/dist"

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  say "adding the aarch64-unknown-linux-gnu target"
  rustup target add aarch64-unknown-linux-gnu >"$LOGS/rustup.log" 2>&1 || fail "rustup target add" "$LOGS/rustup.log"
fi
cargo_home=${CARGO_HOME:-$HOME/.cargo}
case "$ROOT$cargo_home" in
  *[[:space:]]*) fail "the checkout (\`$ROOT\`) or cargo's home (\`$cargo_home\`) has a space in its path: the path remapping below cannot carry it" ;;
esac
# Added to the flags cargo-lambda sets (build.rustflags lists are merged, so its target-cpu stays).
export CARGO_BUILD_RUSTFLAGS="--remap-path-prefix=$ROOT=/groupgate --remap-path-prefix=$cargo_home=/cargo"

say "building the groupgate tool (log: .local/logs/groupgate-build.log)"
cargo build --profile tool --locked -p groupgate-cli >"$LOGS/groupgate-build.log" 2>&1 ||
  fail "cargo build --profile tool -p groupgate-cli" "$LOGS/groupgate-build.log"
language=$(target/tool/groupgate settings get policy_language 2>"$LOGS/settings.log") ||
  fail "groupgate settings get policy_language" "$LOGS/settings.log"
lambda_features=()
case $language in
  iam) ;;
  cedar) lambda_features=(--features authorizer/cedar) ;;
  *) fail "groupgate settings get policy_language printed \`$language\`, neither iam nor cedar" ;;
esac

say "building the authorizer ($language policies) and backend for arm64 (log: .local/logs/lambda-build.log)"
cargo lambda build --release --locked --arm64 --output-format zip -p authorizer -p backend \
  "${lambda_features[@]}" >"$LOGS/lambda-build.log" 2>&1 || fail "cargo lambda build" "$LOGS/lambda-build.log"

# Writes the normalized zips into DIR/<function>/bootstrap.zip: package DIR
package() {
  local function zip out
  for function in authorizer backend; do
    zip="target/lambda/$function/bootstrap.zip"
    out="$1/$function/bootstrap.zip"
    [ -f "$zip" ] || fail "$zip was not written"
    mkdir -p "$1/$function"
    python3 "$ROOT/scripts/pipeline/normalize-zip.py" "$zip" "$out" || fail "normalizing $zip"
    say "${out#"$ROOT"/}: $(stat -c %s "$out") bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1)"
  done
}
if [ -n "$zips_only" ]; then
  package "$zips_only"
  exit 0
fi

rm -rf "$DIST"
mkdir -p "$DIST/lambda"
package "$DIST/lambda"
cp target/tool/groupgate "$DIST/groupgate"
# Relative paths, so that assets.json reads the same in any checkout.
"$DIST/groupgate" synth --out dist/synth --assets dist/lambda >/dev/null || fail "groupgate synth"
say "dist/ holds the zips, the groupgate tool and the synthesized template"
