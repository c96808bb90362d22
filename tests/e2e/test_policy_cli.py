"""Policy-tested previews through the real CLI: `pulumi preview --policy-pack
policy/` passes on the shipped dev stack, and a config that breaks a
mandatory policy fails the preview and names the policy.

The pack runs from a copy of ``policy/`` with its own venv made by `pulumi
install` (the CLI does not create it; see policy/README.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.real_stack import REPO, log, shipped_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pack(backend) -> str:
    where = backend.root / "policy"
    shutil.copytree(REPO / "policy", where, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    log("pulumi install in the policy pack (creates its venv)")
    backend.stack("policy-dev", shipped_config("dev"))
    p = subprocess.run(["pulumi", "install"], cwd=where, env={**os.environ, **backend.env},
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert (where / "venv" / "bin" / "python").exists()
    return str(where)


def test_shipped_dev_stack_passes_the_policy_pack(backend, pack):
    stack = backend.stacks["policy-dev"]
    p = stack.cli("preview", "--diff", "--policy-pack", pack)
    out = p.stdout + p.stderr
    assert "Policies:" in out or "policy" in out.lower(), out[-3000:]
    assert "mandatory" not in out, out[-3000:]
    # The pack really ran: its name is in the report.
    assert "agentstream" in out


def test_port_on_all_interfaces_fails_the_preview_and_names_the_policy(backend, pack):
    cfg = shipped_config("dev")
    cfg["agentstream:docker"] = {**cfg["agentstream:docker"], "publishAddress": "0.0.0.0"}
    stack = backend.stack("policy-open-port", cfg)
    p = stack.cli("preview", "--policy-pack", pack, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out[-3000:]
    assert "docker-ports-localhost" in out, out[-3000:]
    assert "mandatory" in out
    assert "0.0.0.0" in out
    # Nothing was deployed: a preview never creates, and the stack has no state.
    assert stack.resource_states() == []
