"""Checks what actionlint does not: who can reach the deploy role, and how actions are pinned.

- Every workflow's token may only read the repository, unless a job says otherwise.
- A job that asks for an OIDC token (`id-token: write`; the full deploy and the policy-only
  one) runs for refs/heads/main only (its `if` is that test, or that test `&&` more), under
  the `production` environment, in a workflow that no pull request, workflow_run or comment
  can start; neither the role it assumes, its region, nor the artifact it runs can come from
  an input; it never runs cargo (it runs a tool built where no credentials are); and all such
  jobs share one concurrency group that never cancels a running deploy.
- Every action from another repository is pinned by a full commit SHA, with its version in a
  comment beside it.
- A job that runs `groupgate deploy` states the tool's longest wait on CloudFormation
  (`--max-wait MINUTES`), and its `timeout-minutes` is at least that plus JOB_MARGIN_MINUTES for
  its other steps; one that runs `groupgate deploy-policies` (no CloudFormation wait) has a
  `timeout-minutes` of at least the margin. Otherwise GitHub kills the job mid-deploy and nobody
  is told which stack state it was waiting on; the tool, given the time, says so itself.

    .venv/bin/python scripts/pipeline/check-workflows.py [WORKFLOW.yml...]
      (default: every file in .github/workflows)
    .venv/bin/python scripts/pipeline/check-workflows.py --self-test
      (breaks each rule in a copy of deploy.yml, and fails unless each break is reported)
"""

import copy
import glob
import re
import sys

import yaml

MAIN_ONLY = "github.ref == 'refs/heads/main'"
DEPLOY_TRIGGERS = {"push", "workflow_dispatch"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+\.\d+\.\d+\s*$")
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(.*)$")
FROM_OUTSIDE = re.compile(r"\b(inputs|github\.event)\.")
CARGO = re.compile(r"(^|[\s;&|(])cargo\s")
GROUPGATE_DEPLOY = re.compile(r"\bgroupgate\s+deploy(?![\w-])")
GROUPGATE_DEPLOY_POLICIES = re.compile(r"\bgroupgate\s+deploy-policies(?![\w-])")
MAX_WAIT = re.compile(r"--max-wait(?:=|\s+)(\S+)")
# What a deploy job spends besides the tool's CloudFormation waits: checkout, the artifact
# download, the credentials, the zips' upload, the two authorizer cache flushes a minute or two
# apart, the seeding and the deployed smoke test. `timeout-minutes` is the job's whole budget
# (https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions#jobsjob_idtimeout-minutes).
JOB_MARGIN_MINUTES = 15


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


def main_only(condition) -> bool:
    """The job runs only for main: its `if` is MAIN_ONLY, alone or `&&` other tests, never `||`."""
    text = str(condition or "").strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()
    return "||" not in text and MAIN_ONLY in (part.strip() for part in text.split("&&"))


def check(path: str) -> list:
    with open(path) as f:
        text = f.read()
    return check_text(path, text, yaml.safe_load(text))


def check_text(path: str, text: str, workflow: dict) -> list:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = USES.match(line)
        if match and not match.group(1).startswith("./") and not PINNED.match(match.group(1)):
            problems.append(f"{path}:{number}: `{match.group(1).strip()}` is not pinned by a commit SHA with `# vX.Y.Z`")

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
        if not main_only(job.get("if")):
            problems.append(f"{where} must run only `if: {MAIN_ONLY}` (alone, or `&&` other tests)")
        concurrency = job.get("concurrency")
        if not isinstance(concurrency, dict) or not concurrency.get("group") or concurrency.get("cancel-in-progress") is not False:
            problems.append(f"{where} needs a concurrency group with `cancel-in-progress: false`")
        environment = job.get("environment")
        if (environment.get("name") if isinstance(environment, dict) else environment) != "production":
            problems.append(f"{where} must run under the `production` environment")
        if set(on) - DEPLOY_TRIGGERS:
            problems.append(f"{where} is in a workflow started by {sorted(set(on) - DEPLOY_TRIGGERS)}")
        if "push" in on and (on.get("push") or {}).get("branches") != ["main"]:
            problems.append(f"{where}: its workflow's push trigger must be for `main` only")
        for step in job.get("steps") or []:
            if CARGO.search(str(step.get("run", ""))):
                problems.append(f"{where} runs cargo: it must run a tool built without credentials")
            if str(step.get("uses", "")).startswith("actions/download-artifact@"):
                for key in ("name", "run-id"):
                    value = str((step.get("with") or {}).get(key, ""))
                    if FROM_OUTSIDE.search(value):
                        problems.append(f"{where}: the artifact's `{key}` comes from an input (`{value}`)")
            if not str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                continue
            for key in ("role-to-assume", "aws-region"):
                value = expand_env(str((step.get("with") or {}).get(key, "")), job.get("env") or {}, workflow.get("env") or {})
                if FROM_OUTSIDE.search(value):
                    problems.append(f"{where}: `{key}` comes from an input (`{value}`); it must be the bootstrap's, from variables")
    return problems + deploy_timeouts(path, workflow)


def deploy_timeouts(path: str, workflow: dict) -> list:
    """Each job that runs the tool's deploy outlives the tool's longest wait (module doc)."""
    problems = []
    for name, job in (workflow.get("jobs") or {}).items():
        runs = [str(step.get("run", "")) for step in job.get("steps") or []]
        deploys = [run for run in runs if GROUPGATE_DEPLOY.search(run)]
        if not deploys and not any(GROUPGATE_DEPLOY_POLICIES.search(run) for run in runs):
            continue
        where = f"{path}: job `{name}`"
        needed = JOB_MARGIN_MINUTES
        for run in deploys:
            wait = MAX_WAIT.search(run)
            if not wait or not wait.group(1).isdigit():
                problems.append(f"{where} runs `groupgate deploy` without `--max-wait MINUTES`: state the tool's longest wait, which its timeout-minutes must exceed")
                continue
            needed = max(needed, int(wait.group(1)) + JOB_MARGIN_MINUTES)
        timeout = job.get("timeout-minutes")
        if not isinstance(timeout, int) or isinstance(timeout, bool):
            problems.append(f"{where} runs a groupgate deploy without a numeric `timeout-minutes` (at least {needed})")
        elif timeout < needed:
            problems.append(f"{where}: timeout-minutes {timeout} is below {needed} (the tool's --max-wait plus {JOB_MARGIN_MINUTES} for the other steps): GitHub would kill it mid-deploy with no word on the stack's state")
    return problems


def deploy_jobs(path: str, workflow: dict) -> list:
    return [(path, name, job) for name, job in (workflow.get("jobs") or {}).items()
            if isinstance(job.get("permissions"), dict) and job["permissions"].get("id-token") == "write"]


def shared_concurrency(workflows: dict) -> list:
    """Every deploy job of every workflow queues in one concurrency group."""
    jobs = [j for path, workflow in workflows.items() for j in deploy_jobs(path, workflow)]
    groups = {str((job.get("concurrency") or {}).get("group")) for _, _, job in jobs}
    if len(groups) > 1:
        names = ", ".join(f"`{name}`" for _, name, _ in jobs)
        return [f"the deploy jobs ({names}) must share one concurrency group, not {sorted(groups)}"]
    return []


def self_test() -> int:
    """Each rule, broken in a copy of deploy.yml, is reported; the copy itself is clean."""
    path = ".github/workflows/deploy.yml"
    with open(path) as f:
        text = f.read()
    original = yaml.safe_load(text)

    def broken(change):
        workflow = copy.deepcopy(original)
        change(workflow)
        return workflow

    def fast(workflow):
        return workflow["jobs"]["deploy-policies"]

    def step(job, prefix):
        return next(s for s in job["steps"] if str(s.get("uses", "")).startswith(prefix))

    def step_running(job, command):
        return next(s for s in job["steps"] if command in str(s.get("run", "")))

    cases = {
        "the fast path may run off main": lambda w: fast(w).update({"if": "needs.route.outputs.path == 'fast'"}),
        "an `||` opens the fast path to any branch": lambda w: fast(w).update(
            {"if": "github.ref == 'refs/heads/main' || needs.route.outputs.path == 'fast'"}),
        "the fast path outside production": lambda w: fast(w).update({"environment": "staging"}),
        "the fast path builds with credentials": lambda w: fast(w)["steps"].append({"run": "cargo build -p groupgate-cli"}),
        "the fast path's artifact from an input": lambda w: step(fast(w), "actions/download-artifact@")["with"].update(
            {"run-id": "${{ inputs.run-id }}"}),
        "the fast path's role from an input": lambda w: step(fast(w), "aws-actions/configure-aws-credentials@")["with"].update(
            {"role-to-assume": "${{ inputs.role }}"}),
        "the fast path cancels a running deploy": lambda w: fast(w)["concurrency"].update({"cancel-in-progress": True}),
        "the full deploy runs off main": lambda w: w["jobs"]["deploy"].update({"if": "always()"}),
        "the full deploy's timeout below the tool's longest wait": lambda w: w["jobs"]["deploy"].update({"timeout-minutes": 45}),
        "the full deploy with no timeout": lambda w: w["jobs"]["deploy"].pop("timeout-minutes"),
        "the full deploy does not state its longest wait": lambda w: step_running(w["jobs"]["deploy"], "groupgate deploy").update(
            {"run": "dist/groupgate deploy --stack-name \"$STACK_NAME\""}),
        "the fast path's timeout below the margin": lambda w: fast(w).update({"timeout-minutes": 5}),
    }
    failures = []
    if check_text(path, text, original):
        failures.append("deploy.yml as committed is reported")
    for name, change in cases.items():
        if not check_text(path, text, broken(change)):
            failures.append(name)
    other = broken(lambda w: fast(w)["concurrency"].update({"group": "policies"}))
    if not shared_concurrency({path: other}):
        failures.append("two deploy jobs in two concurrency groups")
    # A workflow written by hand with a job timeout shorter than the tool's stated wait.
    short = "fixtures/workflows/deploy-timeout-too-short.yml"
    reported = [p for p in check(short) if "timeout-minutes 30 is below 55" in p]
    if len(reported) != 1:
        failures.append(f"{short}: its too-short timeout")
    for failure in failures:
        print(f"self-test: not reported: {failure}", file=sys.stderr)
    print(f"self-test: {len(cases) + 3 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def main(paths: list) -> int:
    if paths == ["--self-test"]:
        return self_test()
    paths = paths or sorted(glob.glob(".github/workflows/*.yml") + glob.glob(".github/workflows/*.yaml"))
    if not paths:
        print("groupgate: no workflows found under .github/workflows", file=sys.stderr)
        return 1
    problems = [problem for path in paths for problem in check(path)]
    problems += shared_concurrency({path: yaml.safe_load(open(path)) for path in paths})
    for problem in problems:
        print(problem, file=sys.stderr)
    if not any("id-token" in str(yaml.safe_load(open(p)).get("jobs")) for p in paths):
        print("groupgate: no job asks for an OIDC token: the deploy job is missing", file=sys.stderr)
        return 1
    print(f"workflows: {len(paths)} checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
