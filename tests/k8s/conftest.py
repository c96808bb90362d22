"""The Kubernetes tiers: the real Pulumi engine and the real pulumi-kubernetes
provider against a real API server.

Which cluster: whatever ``KUBECONFIG`` points at. CI starts a local one
(``scripts/k8s-tier.sh`` runs ``../shared/tools/k8s-local/up.sh``); a user
points ``KUBECONFIG`` at their own cluster and runs the same tests:

    KUBECONFIG=~/.kube/my-cluster pytest -m k8s_kwok tests/k8s   # deploy/second up/destroy, dry-run
    KUBECONFIG=~/.kube/my-cluster pytest -m k8s_real tests/k8s   # the pipeline on real pods

Every test works in namespaces it creates (``agentstream``, ``edge-*``,
``topology``, ``k8s-*``) and removes them again.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from tests.support.real_stack import Backend, log, pulumi_cli

K8S_LOCAL_KUBECTL = Path.home() / ".cache/k8s-local/bin/kubernetes-v1.35.4/kubectl"


def _missing(reason: str):
    # In CI a missing prerequisite is a failure, not a silent skip.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def kubectl_path() -> Optional[str]:
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    if K8S_LOCAL_KUBECTL.exists():
        return str(K8S_LOCAL_KUBECTL)
    return shutil.which("kubectl")


class Kube:
    """kubectl against the cluster under test."""

    def __init__(self, path: str):
        self.path = path

    def run(self, *args: str, input: Optional[str] = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        p = subprocess.run([self.path, *args], input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        return p

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def items(self, kind: str, namespace: Optional[str] = None, selector: Optional[str] = None) -> list[dict]:
        args = ["get", kind] + (["-n", namespace] if namespace else ["-A"]) + (["-l", selector] if selector else [])
        return self.json(*args)["items"]

    def namespace_exists(self, name: str) -> bool:
        return self.run("get", "namespace", name, check=False).returncode == 0

    def wait_namespace_gone(self, name: str, timeout: float = 120) -> None:
        start = time.time()
        while self.namespace_exists(name):
            if time.time() - start > timeout:
                raise AssertionError(f"namespace {name} still exists after {timeout}s")
            time.sleep(2)

    def apply(self, manifest: dict) -> None:
        self.run("apply", "-f", "-", input=json.dumps(manifest))

    @contextmanager
    def port_forward(self, namespace: str, target: str, port: int) -> Iterator[str]:
        """``kubectl port-forward`` to ``target`` (``svc/x`` or ``pod/x``); yields the local URL."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            local = s.getsockname()[1]
        proc = subprocess.Popen(
            [self.path, "port-forward", "-n", namespace, "--address", "127.0.0.1", target, f"{local}:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(f"port-forward to {target} exited: {proc.stderr.read()[-1000:]}")
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", local)) == 0:
                        break
                time.sleep(0.3)
            yield f"http://127.0.0.1:{local}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def kube() -> Kube:
    path = kubectl_path()
    if not path:
        _missing("kubectl not found (set KUBECTL, or build ../shared/tools/k8s-local)")
    if not (os.environ.get("KUBECONFIG") or (Path.home() / ".kube/config").exists()):
        _missing("no cluster: set KUBECONFIG (scripts/k8s-tier.sh starts a local one)")
    k = Kube(path)
    p = k.run("version", "-o", "json", check=False, timeout=30)
    if p.returncode != 0:
        _missing(f"the cluster does not answer: {p.stderr.strip()[-300:]}")
    server = json.loads(p.stdout)["serverVersion"]["gitVersion"]
    log(f"cluster: Kubernetes {server} ({os.environ.get('KUBECONFIG', '~/.kube/config')})")
    return k


@pytest.fixture(scope="session")
def backend(tmp_path_factory, kube) -> Iterator[Backend]:
    """One file backend for the session; stacks left over by a failed test are destroyed."""
    if not pulumi_cli():
        _missing("the pulumi CLI is not on PATH (scripts/e2e-setup.sh builds it)")
    b = Backend(tmp_path_factory.mktemp("k8s-pulumi"))
    yield b
    _destroy_leftovers(b.stacks)


def _destroy_leftovers(stacks) -> None:
    # Edges first: they read central's outputs.
    for name, stack in sorted(stacks.items(), key=lambda kv: not kv[0].startswith("edge")):
        try:
            if stack.stack.export_stack().deployment.get("resources"):
                log(f"cleaning up stack {name} left by a failed test")
                stack.destroy()
        except Exception as e:  # noqa: BLE001 - report and go on with the others
            log(f"cleanup of {name} failed: {e}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(autouse=True)
def _destroy_what_a_failed_test_left(request):
    """The tests share namespaces and object names: a stack a failed test
    left deployed would make the next test's creates conflict (server-side
    apply, another field manager) and fail for a reason not its own. So the
    stacks a failed test created are destroyed right after it; those of
    module fixtures (created before the test) are left to their fixture."""
    if "backend" not in request.fixturenames:
        yield
        return
    backend = request.getfixturevalue("backend")
    before = set(backend.stacks)
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        _destroy_leftovers({n: s for n, s in backend.stacks.items() if n not in before})


def no_changes(stack) -> dict:
    """A second `pulumi up` changes nothing; returns the counts it reported."""
    res = stack.up()
    # Reads (the IngressClass looked up before an Ingress) are not changes.
    counts = {k: v for k, v in (res.summary.resource_changes or {}).items() if k not in ("same", "read") and v}
    assert counts == {}, f"second pulumi up of {stack.name} changed {counts}"
    return res.summary.resource_changes
