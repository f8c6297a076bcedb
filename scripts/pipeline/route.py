"""Decides which deploy a push to main gets: `fast` (the policy-only path: validate, simulate,
`groupgate deploy-policies`, smoke) or `full` (test, build, `groupgate deploy`, smoke).

Fast only when all of these hold, and full whenever one does not or cannot be known:
- the run is a push to main (a dispatch deploys everything, to the stack it names);
- an earlier push run of deploy.yml on main succeeded with a full deploy whose `dist-<sha>`
  artifact GitHub still keeps (30 days): its commit is the base, and its tool (`groupgate`,
  built by that run's build job with no AWS credentials) is the one the fast path runs;
- the base is an ancestor of this commit, and every file changed since is under `policies/`
  or is `deploy/access.json`: the tool, the settings and the code are the base's, so the base's
  tool is the one this commit would build;
- the template the base's tool synthesizes from this commit's `policies/` is the base's own:
  no group was added or removed, and no precedence, description or pets_table changed.
`groupgate deploy-policies` checks the last point again against the deployed stack itself.

    scripts/pipeline/route.py                      in the workflow: writes path, run-id and
                                                   artifact to $GITHUB_OUTPUT, and the tool
                                                   into dist/ when the path is fast
    scripts/pipeline/route.py --templates TOOL BASE_POLICIES HEAD_POLICIES
                                                   only the last check: prints `same` or the
                                                   difference (exit 0 or 1)
    scripts/pipeline/route.py --self-test          the decision against a scratch repository
                                                   and a stand-in `gh`

Environment: GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_REF, GITHUB_EVENT_NAME, GITHUB_OUTPUT, and
GH_TOKEN for `gh` (the job needs `actions: read`).
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST_PATHS = ("policies/",)
FAST_FILES = ("deploy/access.json",)


class Full(Exception):
    """The push gets the full deploy, for the reason given."""


def run(args, cwd=ROOT, **kwargs):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise Full(f"`{' '.join(args[:3])} ...` failed: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def gh_json(path):
    return json.loads(run(["gh", "api", path]))


def base_run(repository):
    """(run id, head sha) of the newest successful full deploy on main whose tool is kept."""
    runs = gh_json(f"repos/{repository}/actions/workflows/deploy.yml/runs?branch=main&event=push&status=success&per_page=50")
    for candidate in runs.get("workflow_runs", []):
        sha, run_id = candidate.get("head_sha"), candidate.get("id")
        if candidate.get("head_branch") != "main" or not sha or not run_id:
            continue
        artifacts = gh_json(f"repos/{repository}/actions/runs/{run_id}/artifacts?name=dist-{sha}")
        if any(a.get("name") == f"dist-{sha}" and not a.get("expired") for a in artifacts.get("artifacts", [])):
            return run_id, sha
    raise Full("no earlier full deploy on main whose built tool GitHub still keeps")


def changed_files(base, head, cwd=ROOT):
    if subprocess.run(["git", "merge-base", "--is-ancestor", base, head], cwd=cwd).returncode != 0:
        raise Full(f"the last full deploy's commit {base[:12]} is not an ancestor of {head[:12]}")
    return [line for line in run(["git", "diff", "--name-only", base, head], cwd=cwd).splitlines() if line]


def only_policies(files):
    others = [f for f in files if not f.startswith(FAST_PATHS) and f not in FAST_FILES]
    if others:
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        raise Full(f"files outside policies/ and deploy/access.json changed: {', '.join(others[:5])}{more}")


def template_difference(tool, base_policies, head_policies, cwd=ROOT):
    """None when TOOL synthesizes the same template from both folders, else what differs."""
    with tempfile.TemporaryDirectory() as out:
        texts = []
        for name, policies in (("base", base_policies), ("head", head_policies)):
            folder = os.path.join(out, name)
            done = subprocess.run([tool, "synth", "--placeholder-assets", "--policies", policies, "--out", folder],
                                  cwd=cwd, capture_output=True, text=True)
            if done.returncode != 0:
                return f"`groupgate synth` of {name}'s policies failed: {(done.stderr or done.stdout).strip()[:300]}"
            with open(os.path.join(folder, "template.json")) as f:
                texts.append(json.load(f))
        base, head = texts
        if base == head:
            return None
        keys = sorted(set(base.get("Resources", {})) | set(head.get("Resources", {})))
        changed = [k for k in keys if base.get("Resources", {}).get(k) != head.get("Resources", {}).get(k)]
        return "the template changes (" + (", ".join(changed[:5]) or "outside Resources") + ")"


def decide(env, cwd=ROOT, dist=None):
    """(path, details): details holds the run id, artifact and reason."""
    dist = dist or os.path.join(cwd, "dist")
    try:
        if env.get("GITHUB_EVENT_NAME") != "push" or env.get("GITHUB_REF") != "refs/heads/main":
            raise Full("not a push to main")
        head = env["GITHUB_SHA"]
        run_id, base = base_run(env["GITHUB_REPOSITORY"])
        only_policies(changed_files(base, head, cwd))
        artifact = f"dist-{base}"
        shutil.rmtree(dist, ignore_errors=True)
        run(["gh", "run", "download", str(run_id), "--repo", env["GITHUB_REPOSITORY"], "--name", artifact, "--dir", dist], cwd=cwd)
        tool = os.path.join(dist, "groupgate")
        os.chmod(tool, os.stat(tool).st_mode | stat.S_IXUSR)
        with tempfile.TemporaryDirectory() as scratch:
            archive = subprocess.run(["git", "archive", "--format=tar", base, "policies"], cwd=cwd,
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
            difference = template_difference(tool, os.path.join(scratch, "policies"), os.path.join(cwd, "policies"), cwd)
        if difference:
            raise Full(difference)
        return "fast", {"run-id": str(run_id), "artifact": artifact, "base": base,
                        "reason": f"only policies changed since the full deploy of {base[:12]}"}
    except Full as why:
        return "full", {"run-id": "", "artifact": "", "base": "", "reason": str(why)}
    except (KeyError, OSError, ValueError, subprocess.CalledProcessError) as error:
        return "full", {"run-id": "", "artifact": "", "base": "", "reason": f"could not decide: {error}"}


def main(args):
    if args == ["--self-test"]:
        return self_test()
    if args[:1] == ["--templates"] and len(args) == 4:
        difference = template_difference(*args[1:])
        print(difference or "same")
        return 1 if difference else 0
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    path, details = decide(os.environ)
    print(f"route: {path} deploy: {details['reason']}")
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write(f"path={path}\n")
        for key in ("run-id", "artifact", "base"):
            out.write(f"{key}={details[key]}\n")
    return 0


STUB_GH = r'''#!/usr/bin/env python3
import json, os, shutil, sys
state = json.load(open(os.environ["ROUTE_STUB"]))
args = sys.argv[1:]
if args[:1] == ["api"]:
    path = args[1]
    if "/workflows/" in path:
        print(json.dumps({"workflow_runs": state["runs"]}))
    else:
        run_id = path.split("/runs/")[1].split("/")[0]
        print(json.dumps({"artifacts": state["artifacts"].get(run_id, [])}))
elif args[:2] == ["run", "download"]:
    dist = args[args.index("--dir") + 1]
    os.makedirs(dist, exist_ok=True)
    shutil.copy(state["tool"], os.path.join(dist, "groupgate"))
else:
    sys.exit("stub gh: unexpected " + " ".join(args))
'''

# Stands in for `groupgate synth`: a template of each group's name, precedence, description and
# pets-table access, the fields the real template holds (`deploy-policies` and the rehearsal
# check the real one).
STUB_TOOL = r'''#!/usr/bin/env python3
import glob, json, os, sys
args = sys.argv[1:]
policies, out = args[args.index("--policies") + 1], args[args.index("--out") + 1]
groups = {}
for path in sorted(glob.glob(os.path.join(policies, "*.json"))):
    d = json.load(open(path))
    d.pop("policy")
    groups[d["group"]] = d
os.makedirs(out, exist_ok=True)
json.dump({"Resources": groups}, open(os.path.join(out, "template.json"), "w"))
'''


def self_test():
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        repo = os.path.join(scratch, "repo")
        os.makedirs(os.path.join(repo, "policies"))
        os.makedirs(os.path.join(repo, "deploy"))
        git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
        git("init", "-q", "-b", "main")
        git("config", "user.email", "route@test.invalid")
        git("config", "user.name", "route self-test")

        def write(path, value):
            with open(os.path.join(repo, path), "w") as f:
                f.write(value if isinstance(value, str) else json.dumps(value))

        def viewer(**changes):
            group = {"group": "viewer", "precedence": 1, "description": "d", "pets_table": "read",
                     "policy": {"Statement": [{"Effect": "Allow"}]}}
            group.update(changes)
            return group

        def commit(message):
            git("add", "-A")
            git("commit", "-q", "-m", message)
            return git("rev-parse", "HEAD")

        write("policies/viewer.json", viewer())
        write("deploy/access.json", "{}")
        write("main.rs", "fn main() {}")
        base = commit("deployed in full")

        tool = os.path.join(scratch, "groupgate")
        gh_dir = os.path.join(scratch, "bin")
        os.makedirs(gh_dir)
        for path, text in ((tool, STUB_TOOL), (os.path.join(gh_dir, "gh"), STUB_GH)):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        stub = os.path.join(scratch, "stub.json")
        kept = {"runs": [{"id": 7, "head_sha": base, "head_branch": "main"}],
                "artifacts": {"7": [{"name": f"dist-{base}", "expired": False}]}, "tool": tool}
        os.environ["PATH"] = gh_dir + os.pathsep + os.environ["PATH"]
        os.environ["ROUTE_STUB"] = stub

        def expect(name, path, reason_part, state=kept, event="push", ref="refs/heads/main"):
            with open(stub, "w") as f:
                json.dump(state, f)
            env = {"GITHUB_EVENT_NAME": event, "GITHUB_REF": ref, "GITHUB_REPOSITORY": "o/r",
                   "GITHUB_SHA": git("rev-parse", "HEAD")}
            got, details = decide(env, cwd=repo, dist=os.path.join(scratch, "dist"))
            ok = got == path and reason_part in details["reason"]
            print(f"{'ok    ' if ok else 'FAILED'} {name}: {got} ({details['reason']})")
            if not ok:
                failures.append(name)

        write("policies/viewer.json", viewer(policy={"Statement": [{"Effect": "Deny"}]}))
        write("deploy/access.json", '{"changed": true}')
        commit("a statement and the matrix")
        expect("a changed statement and matrix go the fast way", "fast", "only policies changed")
        expect("a dispatch is always full", "full", "not a push to main", event="workflow_dispatch")
        expect("no kept tool is full", "full", "no earlier full deploy",
               state={**kept, "artifacts": {"7": [{"name": f"dist-{base}", "expired": True}]}})
        expect("a successful run without a build (a fast one) is no base", "full", "no earlier full deploy",
               state={**kept, "artifacts": {}})

        write("policies/viewer.json", viewer(precedence=5, policy={"Statement": [{"Effect": "Deny"}]}))
        commit("precedence")
        expect("a changed precedence is full", "full", "the template changes")
        git("reset", "-q", "--hard", "HEAD~1")

        write("policies/groomer.json", viewer(group="groomer"))
        commit("a group added")
        expect("an added group is full", "full", "the template changes")
        git("reset", "-q", "--hard", "HEAD~1")

        write("main.rs", "fn main() { println!(); }")
        commit("code")
        expect("a code change is full", "full", "main.rs")
        git("reset", "-q", "--hard", "HEAD~1")

        git("checkout", "-q", "--orphan", "rewritten")
        commit("history rewritten")
        expect("a base that is not an ancestor is full", "full", "not an ancestor")

    print(f"self-test: {8 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
