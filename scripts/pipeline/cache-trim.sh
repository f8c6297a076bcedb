#!/usr/bin/env bash
# Trims cargo profile directories (target/debug, target/release, ...) to the dependencies' build
# artifacts, before the workflows save them to the GitHub Actions cache: the workspace's own crates
# are rebuilt on every commit anyway, incremental state is not reused by a CI build, and what is
# left is decided by Cargo.lock, the manifests and the toolchain alone, which the cache key hashes.
#
#   scripts/pipeline/cache-trim.sh PROFILE_DIR...
#
# With --registry, trims cargo's download cache instead: drops each downloaded crate that none of
# the lock files names (so an entry restored from an older lock does not grow with each update).
#
#   scripts/pipeline/cache-trim.sh --registry [LOCK_FILE...]     (default: Cargo.lock)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

if [ "${1:-}" = --registry ]; then
  shift
  [ $# -gt 0 ] || set -- Cargo.lock
  crates="${CARGO_HOME:-$HOME/.cargo}/registry/cache"
  [ -d "$crates" ] || exit 0
  python3 -c 'import os, sys, tomllib
crates, locks = sys.argv[1], sys.argv[2:]
wanted = set()
for lock in locks:
    with open(lock, "rb") as f:
        wanted.update("%s-%s.crate" % (p["name"], p["version"]) for p in tomllib.load(f).get("package", []))
dropped = 0
for registry in os.listdir(crates):
    for name in os.listdir(os.path.join(crates, registry)):
        if name.endswith(".crate") and name not in wanted:
            os.remove(os.path.join(crates, registry, name))
            dropped += 1
print("groupgate: dropped %d downloaded crates no lock file names" % dropped)' "$crates" "$@" ||
    fail "trimming cargo's download cache"
  exit 0
fi

metadata=$(cargo metadata --no-deps --format-version 1 --offline) || fail "cargo metadata (the workspace's crate names)"
before=$(du -sk "$@" 2>/dev/null | awk '{ sum += $1 } END { print int(sum / 1024) }')
python3 -c 'import json, os, re, shutil, sys
metadata, dirs = json.loads(sys.argv[1]), sys.argv[2:]
ours = set()
for package in metadata["packages"]:
    for name in [package["name"]] + [target["name"] for target in package["targets"]]:
        ours.add(name.replace("-", "_"))

def crate_of(entry):
    """The crate of libgroupgate_shared-0123456789abcdef.rlib, .fingerprint/groupgate-cli-0123456789abcdef, ..."""
    stem = re.sub(r"-[0-9a-f]{16}$", "", entry.split(".", 1)[0]).replace("-", "_")
    return stem[3:] if stem.startswith("lib") and stem[3:] in ours else stem

def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)

for profile in dirs:
    if not os.path.isdir(profile):
        continue
    for entry in os.listdir(profile):
        if entry not in ("deps", "build", ".fingerprint"):
            remove(os.path.join(profile, entry))
    for part in ("deps", "build", ".fingerprint"):
        folder = os.path.join(profile, part)
        for entry in os.listdir(folder) if os.path.isdir(folder) else []:
            if crate_of(entry) in ours:
                remove(os.path.join(folder, entry))' "$metadata" "$@" || fail "trimming $*"
after=$(du -sk "$@" 2>/dev/null | awk '{ sum += $1 } END { print int(sum / 1024) }')
say "trimmed $* to the dependencies' artifacts: ${before} MB -> ${after} MB"
