"""Checks what actionlint does not: who can reach the deploy role, and how actions are pinned.

- Every workflow's token may only read the repository, unless a job says otherwise.
- Only one job may ask for an OIDC token (`id-token: write`): it runs for refs/heads/main only,
  under the `production` environment, in a workflow that no pull request, workflow_run or
  comment can start; and neither the role it assumes nor its region can come from an input.
- Every action from another repository is pinned by a full commit SHA, with its version in a
  comment beside it.

    .venv/bin/python scripts/pipeline/check-workflows.py [WORKFLOW.yml...]
      (default: every file in .github/workflows)
"""

import glob
import re
import sys

import yaml

MAIN_ONLY = "github.ref == 'refs/heads/main'"
DEPLOY_TRIGGERS = {"push", "workflow_dispatch"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+\.\d+\.\d+\s*$")
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(.*)$")
FROM_OUTSIDE = re.compile(r"\b(inputs|github\.event)\.")


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads a bare `on` key as true.
    on = workflow.get("on", workflow.get(True, {}))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def expand_env(value: str, *envs: dict) -> str:
    """`${{ env.X }}` replaced by X's value from the first env that sets it, once."""
    def lookup(match):
        for env in envs:
            if match.group(1) in env:
                return str(env[match.group(1)])
        return match.group(0)

    return re.sub(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lookup, value)


def check(path: str) -> list:
    problems = []
    with open(path) as f:
        text = f.read()
    for number, line in enumerate(text.splitlines(), 1):
        match = USES.match(line)
        if match and not match.group(1).startswith("./") and not PINNED.match(match.group(1)):
            problems.append(f"{path}:{number}: `{match.group(1).strip()}` is not pinned by a commit SHA with `# vX.Y.Z`")

    workflow = yaml.safe_load(text)
    if workflow.get("permissions") != {"contents": "read"}:
        problems.append(f"{path}: the workflow's permissions must be `contents: read` (jobs widen what they need)")
    on = triggers(workflow)
    for trigger in ("pull_request_target", "workflow_run"):
        if trigger in on:
            problems.append(f"{path}: `{trigger}` runs with the base repository's rights: not allowed")

    for name, job in (workflow.get("jobs") or {}).items():
        permissions = job.get("permissions") or {}
        if not isinstance(permissions, dict) or permissions.get("id-token") != "write":
            continue
        where = f"{path}: job `{name}` (id-token: write)"
        if job.get("if") != MAIN_ONLY:
            problems.append(f"{where} must run only `if: {MAIN_ONLY}`")
        environment = job.get("environment")
        if (environment.get("name") if isinstance(environment, dict) else environment) != "production":
            problems.append(f"{where} must run under the `production` environment")
        if set(on) - DEPLOY_TRIGGERS:
            problems.append(f"{where} is in a workflow started by {sorted(set(on) - DEPLOY_TRIGGERS)}")
        if "push" in on and (on.get("push") or {}).get("branches") != ["main"]:
            problems.append(f"{where}: its workflow's push trigger must be for `main` only")
        for step in job.get("steps") or []:
            if not str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                continue
            for key in ("role-to-assume", "aws-region"):
                value = expand_env(str((step.get("with") or {}).get(key, "")), job.get("env") or {}, workflow.get("env") or {})
                if FROM_OUTSIDE.search(value):
                    problems.append(f"{where}: `{key}` comes from an input (`{value}`); it must be the bootstrap's, from variables")
    return problems


def main(paths: list) -> int:
    paths = paths or sorted(glob.glob(".github/workflows/*.yml") + glob.glob(".github/workflows/*.yaml"))
    if not paths:
        print("groupgate: no workflows found under .github/workflows", file=sys.stderr)
        return 1
    problems = [problem for path in paths for problem in check(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not any("id-token" in str(yaml.safe_load(open(p)).get("jobs")) for p in paths):
        print("groupgate: no job asks for an OIDC token: the deploy job is missing", file=sys.stderr)
        return 1
    print(f"workflows: {len(paths)} checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
