"""The components from another Pulumi language, for real: the Pulumi YAML
program examples/yaml/ declares a Target, an ObjectStore, a ReceiveCluster and
one AgentFleet of the package that provider/ serves with
``component_provider_host``, and the real CLI deploys it on the local Docker
host, where the pipeline answers through Query.

What runs: the real CLI and docker provider (pulumi-offline), the YAML
language host built from its Go module (scripts/build-yaml-host.sh), and the
provider from a copy of provider/ with its own venv made by `pulumi install`,
so the checkout gets no venv. The program's names, network and host ports are
its own (yaml-*, 20902, 29291), so it does not collide with the dev stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import _missing
from tests.support.pipeline import Query, wait_for
from tests.support.real_stack import REPO, log

pytestmark = pytest.mark.e2e

STACK = "yaml"
FLEET = "yaml-gotham"
AGENTS = ["yaml-gotham-agent-0", "yaml-gotham-agent-1"]
NETWORK = "yaml-agentstream"
CLI_TIMEOUT = 900


def yaml_host() -> Path:
    where = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-yaml-host.sh"), "--path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.access(where, os.X_OK):
        _missing(f"the Pulumi YAML language host is not built ({where}; scripts/build-yaml-host.sh builds it)")
    return Path(where)


def provider_copy(where: Path) -> Path:
    """provider/ without its venv, its requirements pointing back at the checkout."""
    shutil.copytree(REPO / "provider", where, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    lines = []
    for line in (REPO / "provider" / "requirements.txt").read_text().splitlines():
        option, _, path = line.partition(" ")
        if option in ("-r", "-e") and path.startswith(".."):
            line = f"{option} {(REPO / 'provider' / path).resolve()}"
        lines.append(line)
    (where / "requirements.txt").write_text("\n".join(lines) + "\n")
    return where


class YamlStack:
    def __init__(self, root: Path, backend_env: dict[str, str], host: Path):
        self.root = root
        # The engine finds the YAML host on PATH, which pulumi-offline's
        # PULUMI_IGNORE_AMBIENT_PLUGINS would forbid; providers still come
        # from PULUMI_HOME only (none sits on PATH).
        env = {**os.environ, **backend_env, "PATH": f"{host.parent}{os.pathsep}{os.environ['PATH']}"}
        env.pop("PULUMI_IGNORE_AMBIENT_PLUGINS", None)
        self.env = env
        self.provider = provider_copy(root / "provider")
        self.dir = root / "program"
        self.dir.mkdir()
        with open(REPO / "examples" / "yaml" / "Pulumi.yaml") as f:
            program = yaml.safe_load(f)
        program["packages"]["agentstream"] = str(self.provider)
        with open(self.dir / "Pulumi.yaml", "w") as f:
            yaml.safe_dump(program, f, sort_keys=False)
        self.deployed = False

    def cli(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        log(f"pulumi {' '.join(args)}")
        p = subprocess.run(
            ["pulumi", *args], cwd=cwd or self.dir, env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT
        )
        if check:
            assert p.returncode == 0, f"pulumi {' '.join(args)} failed:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
        return p

    def outputs(self) -> dict:
        return json.loads(self.cli("stack", "output", "--json").stdout)

    def destroy(self) -> None:
        self.cli("destroy", "--yes", "--non-interactive")
        self.deployed = False


@pytest.fixture(scope="module")
def yaml_stack(backend, docker_client):
    host = yaml_host()
    stack = YamlStack(backend.root / "yaml", backend.env, host)
    log("pulumi install in the provider copy (creates its venv)")
    stack.cli("install", cwd=stack.provider)
    assert (stack.provider / "venv" / "bin" / "python").exists()
    stack.cli("stack", "select", "--create", STACK)
    yield stack
    if stack.deployed:
        log("module end: destroying the YAML stack")
        stack.cli("destroy", "--yes", "--non-interactive", check=False)


def yaml_leftovers(docker_client) -> list[str]:
    left = [f"container {c.name}" for c in docker_client.containers.list(all=True) if c.name.startswith("yaml-")]
    left += [f"volume {v.name}" for v in docker_client.volumes.list() if v.name.startswith("yaml-")]
    left += [f"network {n.name}" for n in docker_client.networks.list(names=[NETWORK])]
    return left


def test_yaml_program_deploys_and_the_pipeline_answers(yaml_stack, docker_client):
    assert yaml_leftovers(docker_client) == [], "leftovers of an earlier run; remove them first"
    up = yaml_stack.cli("up", "--yes", "--non-interactive")
    yaml_stack.deployed = True
    out = up.stdout
    # The components and their children, registered through the provider.
    for line in ("agentstream:index:Target", "agentstream:index:ObjectStore", "agentstream:index:ReceiveCluster",
                 "agentstream:index:AgentFleet", "agentstream:index:SelfMonitoring", "agentstream:index:DockerTarget",
                 "docker:index:Container"):
        assert line in out, out[-4000:]
    outputs = yaml_stack.outputs()
    assert outputs["queryUrl"] == "http://127.0.0.1:20902"
    assert outputs["remoteWriteUrl"] == "http://127.0.0.1:29291/api/v1/receive"
    assert outputs["agents"] == AGENTS and outputs["cluster"] == FLEET
    assert docker_client.networks.list(names=[NETWORK])

    # The pipeline answers: Query's `up` shows the fleet's targets (its agents
    # scrape each other), deduplicated to one series per target, all up.
    q = Query(outputs["queryUrl"])

    def fleet_up():
        series = q.query(f'up{{cluster="{FLEET}"}}')
        targets = sorted(s["metric"]["instance"] for s in series)
        assert targets == [f"{a}:9090" for a in AGENTS], targets
        assert all(s["value"][1] == "1" for s in series), series
        return series

    series = wait_for("the YAML fleet's targets in Query", fleet_up, timeout=180)
    assert {s["metric"]["tenant_id"] for s in series} == {FLEET}

    # SelfMonitoring, declared with references (a list of fleets): every
    # target of every job it reports is up in its own tenant.
    jobs = outputs["metaJobs"]
    assert set(jobs) == {"thanos-receive", "thanos-query", "thanos-store", "thanos-compact", "seaweedfs", "prometheus-agent"}, jobs
    want = {(job, t) for job, targets in jobs.items() for t in targets}

    def meta_up():
        got = {(s["metric"]["job"], s["metric"]["instance"]): s["value"][1] for s in q.query('up{tenant_id="yaml-meta"}')}
        assert set(got) == want and set(got.values()) == {"1"}, (sorted(got.items()), sorted(want))
        return got

    wait_for("every self-monitoring target up", meta_up, timeout=180)


def test_second_up_changes_nothing(yaml_stack):
    yaml_stack.cli("up", "--yes", "--non-interactive", "--expect-no-changes")


def test_destroy_leaves_nothing(yaml_stack, docker_client):
    yaml_stack.destroy()
    assert yaml_leftovers(docker_client) == []
