#!/usr/bin/env python3
"""Writes the permissions CloudFormation's handlers need to create, update and delete each
resource type of a template, from the resource schemas cfn-lint ships
(cfnlint/data/schemas: providers/<region>.json names each type's schema file).

    python3 scripts/cfn-handler-permissions.py TEMPLATE.json > deploy/cli/tests/fixtures/handler_permissions.json

deploy/cli/tests/iam.rs evaluates every permission against the bootstrap's execution role, and
fails when the installed cfn-lint's lists differ from the committed file (run this again then).
"""
import json
import os
import sys

import cfnlint

SCHEMAS = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")


def handler_permissions(types, region="us-east-1"):
    with open(os.path.join(SCHEMAS, "providers", f"{region}.json")) as f:
        provider = json.load(f)
    out = {}
    for kind in sorted(types):
        with open(os.path.join(SCHEMAS, "resources", f"{provider[kind]}.json")) as f:
            handlers = json.load(f).get("handlers", {})
        out[kind] = {
            phase: sorted(handlers.get(phase, {}).get("permissions", []))
            for phase in ("create", "update", "delete")
        }
    return out


def main():
    with open(sys.argv[1]) as f:
        template = json.load(f)
    types = {r["Type"] for r in template["Resources"].values()}
    json.dump(handler_permissions(types), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
