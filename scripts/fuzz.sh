#!/usr/bin/env bash
# Fuzzes one target of shared/fuzz (libFuzzer through cargo-fuzz) for SECONDS, from a seed corpus
# made from the repository's fixtures, and fails if it finds a crash (saved under
# shared/fuzz/artifacts/TARGET/; turn it into a regression test).
#
#   scripts/fuzz.sh TARGET SECONDS      # TARGET: token, policy, matcher, decision, identity, event
#   scripts/fuzz.sh all SECONDS         # each target in turn
#
# Installs cargo-fuzz when missing. The stable toolchain builds libFuzzer's instrumentation with
# RUSTC_BOOTSTRAP=1. The corpus grows in .local/fuzz/corpus/TARGET across runs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

TARGETS=(token policy matcher decision identity event)
target=${1:-}
seconds=${2:-}
case "$seconds" in ''|*[!0-9]*) fail "usage: scripts/fuzz.sh TARGET|all SECONDS (TARGET: ${TARGETS[*]})" ;; esac
if [ "$target" = all ]; then
  for t in "${TARGETS[@]}"; do "$0" "$t" "$seconds"; done
  exit 0
fi
[[ " ${TARGETS[*]} " == *" $target "* ]] || fail "unknown target '$target' (one of: ${TARGETS[*]}, all)"

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz 0.13.2 (log: .local/logs/cargo-fuzz-install.log)"
  cargo install cargo-fuzz --locked --version 0.13.2 >"$LOGS/cargo-fuzz-install.log" 2>&1 ||
    fail "cargo install cargo-fuzz" "$LOGS/cargo-fuzz-install.log"
fi

CORPUS="$ROOT/.local/fuzz/corpus/$target"
mkdir -p "$CORPUS"
say "seeding $target's corpus from the fixtures"
python3 - "$target" "$CORPUS" <<'PY'
import glob, hashlib, json, os, sys
target, corpus = sys.argv[1], sys.argv[2]
def seed(data):
    data = data if isinstance(data, bytes) else data.encode()
    open(os.path.join(corpus, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb").write(data)
table = json.load(open("fixtures/decision_table.json"))
shipped = [json.load(open(p))["policy"] for p in sorted(glob.glob("policies/*.json"))]
bench = [entry["policy"] for entry in json.load(open("fixtures/bench/policies.json"))]
policies = shipped + list(table["policies"].values()) + bench
policies = [p if isinstance(p, str) else json.dumps(p) for p in policies]
arn = "arn:aws:execute-api:us-east-1:123456789012:api0000000/prod/%s%s"
if target == "token":
    seed(open("fixtures/bench/token.jwt").read().strip())
    seed(json.load(open("fixtures/events/authorizer-token.json"))["authorizationToken"].split(" ")[-1])
elif target == "policy":
    for p in policies:
        seed(p)
elif target == "matcher":
    for p in policies:
        try:
            statements = json.loads(p).get("Statement", [])
        except ValueError:
            continue
        for s in statements if isinstance(statements, list) else [statements]:
            for r in s.get("Resource", []) if isinstance(s.get("Resource"), list) else [s.get("Resource", "*")]:
                seed(str(r) + "\0" + arn % ("GET", "/petstore/v1/pets"))
elif target == "decision":
    for case in table["cases"]:
        chosen = [table["policies"][g] for g in case["groups"] if g in table["policies"]]
        chosen = [p for p in chosen if isinstance(p, dict)]
        seed(json.dumps({"policies": chosen, "arn": arn % (case["method"], case["path"]), "ip": case.get("source_ip") or "10.0.0.1"}))
elif target == "identity":
    for path in sorted(glob.glob("fixtures/events/rest-proxy-*.json")):
        authorizer = json.load(open(path))["requestContext"].get("authorizer")
        if authorizer:
            seed(json.dumps(authorizer))
elif target == "event":
    token = open("fixtures/bench/token.jwt").read().strip()
    request = json.load(open("fixtures/events/authorizer-request.json"))
    request["headers"]["Authorization"] = "Bearer " + token
    request["multiValueHeaders"]["Authorization"] = ["Bearer " + token]
    seed(json.dumps(request))
    request["multiValueHeaders"]["authorization"] = ["Bearer other." + token]
    seed(json.dumps(request))
    for arn in (arn % ("GET", "/petstore/v2/pets"), "arn:aws:execute-api:x"):
        seed(json.dumps({"type": "TOKEN", "authorizationToken": token, "methodArn": arn}))
    seed(open("fixtures/events/authorizer-token.json").read())
PY

say "fuzzing $target for $seconds s (log: .local/logs/fuzz-$target.log)"
status=0
(cd shared/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "$CORPUS" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1) >"$LOGS/fuzz-$target.log" 2>&1 || status=$?
runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$LOGS/fuzz-$target.log" | tail -n1 || true)
coverage=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$LOGS/fuzz-$target.log" | tail -n1 || true)
[ "$status" -eq 0 ] || fail "fuzz target $target failed (a crash is saved under shared/fuzz/artifacts/$target/)" "$LOGS/fuzz-$target.log"
say "fuzz $target: ${runs:-no run count} (${coverage:-no coverage line}), no crash"
