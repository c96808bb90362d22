"""The pack as a package: entry point, metadata, config schema, docs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
import yaml
from pulumi.runtime.proto import analyzer_pb2

from tests.policy.engine import LEVEL_NAMES, POLICY_DIR, PolicyConfigError
from tests.support.stack_runner import REPO

import agentstream_policies as P

MANDATORY = {
    "images-pinned", "receive-replication-factor", "receive-pod-disruption-budget", "objstore-credentials-as-secrets",
    "agent-external-labels-unique", "remote-write-secure-target", "k8s-run-as-non-root", "k8s-read-only-root-filesystem",
    "k8s-no-privilege-escalation", "k8s-drop-all-capabilities", "k8s-resource-requests-limits", "k8s-no-host-path",
    "k8s-no-host-namespaces", "docker-no-privileged", "docker-no-host-network", "docker-ports-localhost",
    "one-compactor-per-bucket", "hashring-receivers-exist",
}
ADVISORY = {"receive-write-limits", "k8s-seccomp-runtime-default", "k8s-health-probes", "docker-healthcheck-and-restart"}
STACK_POLICIES = {"receive-pod-disruption-budget", "agent-external-labels-unique", "one-compactor-per-bucket", "hashring-receivers-exist"}


def test_pulumi_policy_yaml():
    with open(os.path.join(POLICY_DIR, "PulumiPolicy.yaml")) as f:
        doc = yaml.safe_load(f)
    assert doc["runtime"]["name"] == "python"
    assert doc["version"] and doc["description"]


def test_requirements_cover_every_import():
    with open(os.path.join(POLICY_DIR, "requirements.txt")) as f:
        required = {line.split(">")[0].split("=")[0].split("<")[0].strip().lower().replace("-", "_") for line in f if line.strip() and not line.startswith("#")}
    imported = set()
    package = os.path.join(POLICY_DIR, "agentstream_policies")
    modules = [os.path.join(package, n) for n in sorted(os.listdir(package)) if n.endswith(".py")]
    for path in [*modules, os.path.join(POLICY_DIR, "__main__.py")]:
        with open(path) as f:
            for node in ast.walk(ast.parse(f.read())):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__", "agentstream_policies"}
    as_package = {"yaml": "pyyaml"}
    assert {as_package.get(m, m) for m in third_party} <= required, third_party


def test_the_pack_shares_the_components_image_rule():
    """One image-pinning rule: the pack's pinning.py is a link to the components' module
    (a copy would drift), and that module is self-contained for the pack's venv."""
    shared = os.path.join(REPO, "components", "agentstream", "pinning.py")
    assert os.path.samefile(os.path.join(POLICY_DIR, "agentstream_policies", "pinning.py"), shared)
    with open(shared) as f:
        tree = ast.parse(f.read())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)), "no relative imports"
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported

    from agentstream.validation import check_image

    bad = "quay.io/thanos/thanos:main"
    assert P.image_problem(bad) in str(pytest.raises(ValueError, check_image, "images.thanos", bad).value)


def test_importing_the_policies_does_not_start_a_server():
    done = subprocess.run(
        [sys.executable, "-c", "import agentstream_policies as p; print(len(p.POLICIES))"],
        cwd=POLICY_DIR, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(P.POLICIES))


def test_analyzer_info_from_the_running_pack(pack):
    info = pack.info()
    assert info.name == "agentstream"
    levels = {p.name: LEVEL_NAMES[p.enforcementLevel] for p in info.policies}
    assert {n for n, level in levels.items() if level == "mandatory"} == MANDATORY
    assert {n for n, level in levels.items() if level == "advisory"} == ADVISORY
    stack_type = {p.name for p in info.policies if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK}
    assert stack_type == STACK_POLICIES
    assert pack.plugin_info().version


def test_config_defaults(pack):
    resolved = pack.reconcile()
    assert resolved["receive-replication-factor"] == ("mandatory", {"allowReplicationFactorOne": ["dev"]})
    assert resolved["receive-pod-disruption-budget"] == ("mandatory", {"allowReplicationFactorOne": ["dev"]})
    assert resolved["docker-ports-localhost"] == ("mandatory", {"allowedPublishAddresses": ["127.0.0.1"]})
    assert resolved["remote-write-secure-target"] == ("mandatory", {"allowedHttpHosts": []})
    everything_advisory = pack.reconcile({"all": "advisory", "images-pinned": "mandatory"})
    assert {level for name, (level, _) in everything_advisory.items() if name != "images-pinned"} == {"advisory"}
    assert everything_advisory["images-pinned"][0] == "mandatory"


@pytest.mark.parametrize(
    "config",
    [
        {"docker-ports-localhost": {"allowedPublishAddresses": "0.0.0.0"}},
        {"receive-replication-factor": {"allowReplicationFactorOne": "dev"}},
        {"remote-write-secure-target": {"allowedHttpHosts": [1]}},
        {"images-pinned": "sometimes"},
    ],
)
def test_invalid_config_is_refused_like_the_engine_does(pack, config):
    with pytest.raises(PolicyConfigError):
        pack.reconcile(config)


def test_readme_documents_every_policy():
    with open(os.path.join(POLICY_DIR, "README.md")) as f:
        readme = f.read()
    missing = [p.name for p in P.POLICIES if f"`{p.name}`" not in readme]
    assert not missing
    for key in ("allowReplicationFactorOne", "allowedPublishAddresses", "allowedHttpHosts", "--policy-pack-config"):
        assert key in readme


def test_example_config_is_valid_and_the_shipped_stacks_pass_it(pack, stack_resources):
    import json

    with open(os.path.join(POLICY_DIR, "config.example.json")) as f:
        config = json.load(f)
    resolved = pack.reconcile(config)
    assert resolved["k8s-seccomp-runtime-default"][0] == "mandatory"
    for stack in ("dev", "k8s"):
        analysis = pack.analyze(stack_resources(stack), config)
        assert analysis.diagnostics == [], analysis.report()
