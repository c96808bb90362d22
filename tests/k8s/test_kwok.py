"""Kubernetes tier 1 (``-m k8s_kwok``): every shipped Kubernetes stack and a
topology built from the Python API, deployed by the real engine with the real
pulumi-kubernetes provider onto a real API server (k8s-local, mode kwok:
real control plane, admission and PVC binding, fake node).

Per stack: ``pulumi up``, a second ``pulumi up`` that changes nothing, and
``pulumi destroy`` that leaves the namespace gone. The edges read central's
outputs through a real StackReference on the file backend. Before that, every
object of every Kubernetes stack goes through a server-side dry run, which
judges what OpenAPI schemas cannot (quantities, names, selectors, Pod
Security admission).
"""

from __future__ import annotations

import copy
import json
import time

import pytest

from tests.support.k8s_schema import validate_k8s_object
from tests.support.real_stack import REPO, log, shipped_config
from tests.support.stack_runner import auto_name, run_stack

from .conftest import no_changes

pytestmark = pytest.mark.k8s_kwok

K8S_STACKS = ("k8s", "central", "edge-batmobile", "edge-batcopter")
EDGE_SECRET = "kwok-remote-write-password"
TOPOLOGY = REPO / "tests" / "k8s" / "programs" / "topology"


# -- server-side dry run ---------------------------------------------------------------------
def rendered_objects(stack: str) -> list[dict]:
    """Every Kubernetes object the stack program registers, as a manifest
    (auto-named objects get the name the provider would give them)."""
    objects = []
    for r in run_stack(stack).resources:
        if not r.type.startswith("kubernetes:") or not r.custom:
            continue
        obj = copy.deepcopy(r.inputs)
        obj.setdefault("metadata", {}).setdefault("name", auto_name(r.name))
        objects.append(obj)
    return objects


def dry_run(kube, objects: list[dict]):
    """``kubectl apply --dry-run=server`` of the objects (namespaces created for real first)."""
    namespaces = sorted({o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")})
    for ns in namespaces:
        kube.run("create", "namespace", ns, check=False)
    try:
        return kube.run(
            "apply", "--dry-run=server", "-f", "-", "-o", "name",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), check=False,
        )
    finally:
        for ns in namespaces:
            kube.run("delete", "namespace", ns, "--wait=false", check=False)
        for ns in namespaces:
            kube.wait_namespace_gone(ns)


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_server_side_dry_run_accepts_every_object(kube, stack):
    objects = rendered_objects(stack)
    p = dry_run(kube, objects)
    assert p.returncode == 0, f"the API server rejected {stack}'s objects:\n{p.stderr}"
    accepted = p.stdout.split()
    log(f"{stack}: the API server accepted all {len(objects)} objects in a dry run")
    assert len(accepted) == len(objects), (accepted, [o["kind"] for o in objects])


def test_server_side_dry_run_control(kube):
    """The dry run can fail: a storage size the schema check lets through is refused by the server."""
    objects = rendered_objects("k8s")
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["spec"].get("volumeClaimTemplates"))
    sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "twenty gigs"
    # What the unit suite's schema check says about it: nothing.
    assert validate_k8s_object(sts) == []
    p = dry_run(kube, objects)
    assert p.returncode != 0
    assert "quantities must match the regular expression" in p.stderr, p.stderr


# -- the shipped stacks, for real ------------------------------------------------------------
def pods(kube, namespace: str) -> list[dict]:
    return kube.items("pods", namespace)


def assert_running(kube, namespace: str, expected_pods: int) -> None:
    running = [p["metadata"]["name"] for p in pods(kube, namespace) if p["status"].get("phase") == "Running"]
    assert len(running) == expected_pods, running
    pvcs = kube.items("pvc", namespace)
    assert pvcs and all(c["status"].get("phase") == "Bound" for c in pvcs), [c["status"] for c in pvcs]


def test_k8s_stack_up_again_destroy(backend, kube):
    stack = backend.stack("k8s", shipped_config("k8s"))
    res = stack.up()
    log(f"k8s: {res.summary.resource_changes}")
    # 3 receivers, 2 routers, 2 query, query frontend, store, compact, seaweedfs, 2 x 2 agents.
    # receivers, routers, query x2, frontend, store, compact, seaweedfs, agents,
    # the self-monitoring agent, the Ruler, Alertmanager
    assert_running(kube, "agentstream", 3 + 2 + 2 + 1 + 1 + 1 + 1 + 4 + 1 + 1 + 1)
    # Restricted Pod Security is enforced on the namespace and every pod was admitted.
    ns = kube.json("get", "namespace", "agentstream")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # Config objects are auto-named (so a change creates the new one first),
    # except the live files' (the hashring, the self-monitoring agent's
    # scrape targets), which keep their names: the pods mount them as a
    # directory that changes in place.
    # This stack has a router tier: the routers hold the ring (the
    # receivers, ingesters only, have none).
    live = {"central-router-live", "meta-agent-live"}
    names = [cm["metadata"]["name"] for cm in kube.items("configmaps", "agentstream", "app.kubernetes.io/part-of=agentstream")]
    assert live <= set(names) and "central-receive-live" not in names, names
    for name in names:
        assert name.rsplit("-", 1)[0].endswith("-config") or name in live, name
    no_changes(stack)
    stack.refresh()
    no_changes(stack)
    stack.destroy()
    kube.wait_namespace_gone("agentstream")


def test_central_fails_fast_without_its_ingress_class(backend, kube):
    """No ingress controller (no IngressClass): the preview fails, naming the
    class, before any resource exists, instead of waiting 10 minutes."""
    cfg = shipped_config("central")
    cfg["agentstream:kubernetes"] = {**cfg["agentstream:kubernetes"], "namespace": "k8s-noclass"}
    cfg["agentstream:kubernetes"]["ingress"] = {**cfg["agentstream:kubernetes"]["ingress"], "className": "no-such-class"}
    stack = backend.stack("central-noclass", cfg)
    # What a user runs (scripts/up.sh): `pulumi up --yes`, which previews first.
    start = time.time()
    p = stack.cli("up", "--yes", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out[-3000:]
    assert "IngressClass" in out and "resource 'no-such-class' does not exist" in out, out[-3000:]
    assert time.time() - start < 120
    assert [r["type"] for r in stack.resource_states() if r["type"] != "pulumi:pulumi:Stack"] == []
    assert not kube.namespace_exists("k8s-noclass")


@pytest.fixture
def ingress_class(kube):
    """What an ingress controller installs (kwok's stage then plays the controller and sets an address)."""
    kube.apply({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"},
    })
    yield "nginx"
    kube.run("delete", "ingressclass", "nginx", check=False)


def test_central_and_edges_through_a_stack_reference(backend, kube, ingress_class):
    central = backend.stack("central", shipped_config("central"))
    central.up()
    out = central.outputs()
    assert out["external_remote_write_url"] == "https://receive.wayne-enterprises.example/api/v1/receive"
    ing = kube.json("get", "ingress", "-n", "agentstream", "-l", "app.kubernetes.io/part-of=agentstream")["items"]
    assert len(ing) == 1 and ing[0]["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}]

    edges = {}
    for name in ("edge-batmobile", "edge-batcopter"):
        cfg = shipped_config(name)
        # The shipped edges name the central stack as a user's backend does.
        assert cfg["agentstream:centralStack"] == backend.stack_ref("central")
        edges[name] = backend.stack(name, cfg, secrets={"agentstream:remoteWriteSecret": EDGE_SECRET})
        edges[name].up()
        fleet = name.split("-", 1)[1]
        assert_running(kube, name, 2)
        # The agents write to central's ingress URL, read through the StackReference.
        config = next(
            c for c in kube.items("configmaps", name) if "prometheus.yml" in (c.get("data") or {})
        )["data"]["prometheus.yml"]
        assert "https://receive.wayne-enterprises.example/api/v1/receive" in config, config
        assert f"cluster: {fleet}" in config
        # The password is in a Secret, never in the ConfigMap.
        assert EDGE_SECRET not in json.dumps(kube.items("configmaps", name))

    no_changes(central)
    for stack in edges.values():
        no_changes(stack)
    for name, stack in edges.items():
        stack.destroy()
        kube.wait_namespace_gone(name)
    central.destroy()
    kube.wait_namespace_gone("agentstream")


def test_topology_from_the_python_api(backend, kube):
    stack = backend.stack("topology", {"topology:namespace": "topology"}, program=TOPOLOGY)
    stack.up()
    # minio, 2 routers, 2 ingesters, query, store, compact, 2 + 1 agents.
    assert_running(kube, "topology", 1 + 2 + 2 + 1 + 1 + 1 + 3)
    assert stack.outputs()["remote_write_url"].startswith("http://ring-router.topology.svc.cluster.local:")
    no_changes(stack)
    stack.destroy()
    kube.wait_namespace_gone("topology")
