"""Every shipped stack file through the real stack program (infra/__main__.py)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from agentstream.config.thanos import HASHRINGS_FILE
from tests.support import resources as R
from tests.support.docker_schema import validate_docker_resources
from tests.support.k8s_schema import validate_k8s_resources
from tests.support.stack_runner import TEST_REMOTE_WRITE_SECRET, load_stack_config, shipped_stacks

SHIPPED = ["central", "dev", "edge-batcopter", "edge-batmobile", "k8s"]
CENTRAL_EXPORTS = {"query_url", "query_direct_url", "remote_write_url", "external_remote_write_url", "store_endpoints", "hashring", "tenant_header", "object_store_endpoint", "bucket", "fleets", "self_monitoring"}
# Stacks with alerting on export the Ruler's and Alertmanager's URLs too.
ALERTING_EXPORTS = {"ruler_url", "alertmanager_url"}
CENTRAL_RW = "http://central-receive.agentstream.svc.cluster.local:19291/api/v1/receive"
CENTRAL_EXTERNAL_RW = "https://receive.wayne-enterprises.example/api/v1/receive"


def test_the_shipped_stacks_are_the_ones_tested():
    assert shipped_stacks() == SHIPPED


@pytest.mark.parametrize("stack", SHIPPED)
def test_stack_runs_and_graph_is_well_formed(stacks, stack):
    run = stacks(stack)
    comps = [r for r in run.resources if r.type in R.COMPONENT_TYPES]
    comp_urns = {c.urn: c for c in comps}
    for c in comps:
        # Top-level components sit under the stack; the self-monitoring
        # fleet is a child of its SelfMonitoring component.
        assert c.parent.endswith(f"pulumi:pulumi:Stack::agentstream-{stack}") or c.parent in comp_urns, c.name
    for r in run.resources:
        if r.type in R.COMPONENT_TYPES:
            continue
        assert r.parent in comp_urns, f"{r.name} is not parented to a component"
        assert r.name.startswith(comp_urns[r.parent].name + "-"), f"{r.name} not named after {comp_urns[r.parent].name}"
    assert len({r.urn for r in run.resources}) == len(run.resources)


@pytest.mark.parametrize("stack", SHIPPED)
def test_provider_resources_valid(stacks, stack):
    run = stacks(stack)
    assert validate_docker_resources(run.resources) == []
    assert validate_k8s_resources(run.resources) == []
    kinds = {r.type.split(":")[0] for r in run.resources}
    target = load_stack_config(stack)["agentstream:target"]
    assert ("docker" in kinds) == (target == "docker")
    assert ("kubernetes" in kinds) == (target == "kubernetes")


def component_counts(run):
    return Counter(r.type.rsplit(":", 1)[1] for r in run.resources if r.type in R.COMPONENT_TYPES)


def test_dev_graph(stacks):
    run = stacks("dev")
    assert component_counts(run) == {
        "DockerTarget": 1, "ObjectStore": 1, "ReceiveCluster": 1, "AgentFleet": 3, "SelfMonitoring": 1
    }
    assert len(run.of_type("docker:index/network:Network")) == 1
    names = sorted(c.name for c in R.containers(run))
    assert names == sorted(
        ["objstore-seaweedfs-0", "central-query-0", "central-store-0", "central-compact-0"]
        + [f"central-receive-{i}" for i in range(3)]
        + [f"{f}-agent-{i}" for f in ("batmobile", "batcopter") for i in range(2)]
        + ["meta-agent-0"]
    )
    fleets = {r.name: r for r in run.resources if r.type == "agentstream:index:AgentFleet"}
    for c in R.containers(run):
        owner = c.name.split("-")[0]
        # Agents belong to their fleet (the self-monitoring fleet "meta" sits
        # inside the SelfMonitoring component of the same name).
        assert c.parent == (fleets[owner] if "-agent-" in c.name else R.component(run, owner)).urn


def test_k8s_graph(stacks):
    run = stacks("k8s")
    assert component_counts(run) == {
        "KubernetesTarget": 1, "ObjectStore": 1, "ReceiveCluster": 1, "AgentFleet": 3, "SelfMonitoring": 1, "Alerting": 1
    }
    kinds = Counter((r.inputs["kind"], r.inputs["metadata"]["name"]) for r in R.k8s_kind(run, "StatefulSet") + R.k8s_kind(run, "Deployment"))
    assert set(kinds) == {
        ("StatefulSet", "objstore-seaweedfs"),
        ("StatefulSet", "central-receive"),
        ("StatefulSet", "central-router"),
        ("StatefulSet", "central-store"),
        ("StatefulSet", "central-compact"),
        ("Deployment", "central-query"),
        ("Deployment", "central-query-frontend"),
        ("StatefulSet", "batmobile-agent"),
        ("StatefulSet", "batcopter-agent"),
        ("StatefulSet", "meta-agent"),
        ("StatefulSet", "alerting-rule"),
        ("StatefulSet", "alerting-alertmanager"),
    }
    assert R.k8s_workload(run, "central-receive").inputs["spec"]["replicas"] == 3
    assert R.k8s_workload(run, "central-router").inputs["spec"]["replicas"] == 2
    assert R.k8s_workload(run, "central-query").inputs["spec"]["replicas"] == 2
    assert len(R.k8s_kind(run, "Namespace")) == 1
    # Write limits sit on the routers, where remote write arrives.
    limits = yaml.safe_load(R.k8s_file(run, R.k8s_workload(run, "central-router"), "/etc/thanos/limits.yml")[0])
    assert limits["write"]["default"]["request"] == {"size_bytes_limit": 4194304, "series_limit": 10000, "samples_limit": 20000}


def test_central_graph(stacks):
    run = stacks("central")
    assert component_counts(run) == {
        "KubernetesTarget": 1, "ObjectStore": 1, "ReceiveCluster": 1, "SelfMonitoring": 1, "AgentFleet": 1, "Alerting": 1
    }
    assert run.outputs["fleets"] == {}
    assert run.outputs["remote_write_url"] == CENTRAL_RW
    assert set(run.outputs) == CENTRAL_EXPORTS | ALERTING_EXPORTS


@pytest.mark.parametrize("fleet", ["batmobile", "batcopter"])
def test_edge_graph_and_stack_reference(stacks, fleet):
    stack = f"edge-{fleet}"
    run = stacks(stack)
    assert component_counts(run) == {"KubernetesTarget": 1, "AgentFleet": 1}
    (ref,) = [r for r in run.reads if r.type == "pulumi:pulumi:StackReference"]
    assert ref.name == load_stack_config(stack)["agentstream:centralStack"] == "organization/agentstream/central"
    assert run.outputs == {"central_stack": ref.name, "fleets": {fleet: [f"{fleet}-agent-0", f"{fleet}-agent-1"]}}
    sts = R.k8s_workload(run, f"{fleet}-agent")
    assert sts.inputs["metadata"]["namespace"] == stack
    cfg = yaml.safe_load(R.k8s_file(run, sts, "/etc/prometheus/prometheus.yml")[0])
    # The edge runs in its own cluster: central's ingress URL, from its outputs.
    assert cfg["remote_write"][0]["url"] == CENTRAL_EXTERNAL_RW
    assert cfg["global"]["external_labels"]["cluster"] == fleet
    assert cfg["global"]["scrape_interval"] == "15s"


def test_edge_writes_where_central_receives(stacks):
    """The URL the central stack exports is the one edges are given (mocked
    reference carries the real central output)."""
    central = stacks("central")
    from tests.support.stack_runner import run_stack

    edge = run_stack("edge-batmobile", stack_outputs={"organization/agentstream/central": central.outputs})
    cfg = yaml.safe_load(R.k8s_file(edge, R.k8s_workload(edge, "batmobile-agent"), "/etc/prometheus/prometheus.yml")[0])
    assert cfg["remote_write"][0]["url"] == central.outputs["external_remote_write_url"] == CENTRAL_EXTERNAL_RW
    assert cfg["remote_write"][0]["headers"] == {central.outputs["tenant_header"]: "batmobile"}
    # And that URL reaches receive's remote-write port through the Ingress.
    (ingress,) = R.k8s_kind(central, "Ingress")
    spec = ingress.inputs["spec"]
    assert spec["tls"] == [{"hosts": ["receive.wayne-enterprises.example"], "secretName": "receive-tls"}]
    assert spec["ingressClassName"] == "nginx"
    (rule,) = spec["rules"]
    assert rule["host"] == "receive.wayne-enterprises.example"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/api/v1/receive" and path["pathType"] == "Prefix"
    backend = path["backend"]["service"]
    svc = R.k8s_get(central, "Service", backend["name"])
    assert backend["port"] == {"name": "remote-write"}
    assert {"name": "remote-write", "port": 19291, "targetPort": 19291} in svc.inputs["spec"]["ports"]
    annotations = ingress.inputs["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "8m"
    # ... and the edge answers that basic auth, its password only in a Secret.
    rw = cfg["remote_write"][0]
    assert rw["basic_auth"] == {"username": "batmobile", "password_file": "/etc/prometheus/secrets/remote-write"}
    password, obj, path = R.k8s_file(edge, R.k8s_workload(edge, "batmobile-agent"), "/etc/prometheus/secrets/remote-write")
    assert password == TEST_REMOTE_WRITE_SECRET and obj.inputs["kind"] == "Secret" and obj.is_secret(path)


def test_edge_in_the_same_cluster_writes_to_the_internal_service(stacks):
    from tests.support.stack_runner import run_stack

    central = stacks("central")
    edge = run_stack(
        "edge-batmobile",
        overrides={"agentstream:centralEndpoint": "internal"},
        stack_outputs={"organization/agentstream/central": central.outputs},
    )
    cfg = yaml.safe_load(R.k8s_file(edge, R.k8s_workload(edge, "batmobile-agent"), "/etc/prometheus/prometheus.yml")[0])
    assert cfg["remote_write"][0]["url"] == central.outputs["remote_write_url"] == CENTRAL_RW


def test_edge_sends_the_central_tenant_header(stacks):
    """A central with a custom tenant header: edges send that header, or
    every edge's samples land in the default tenant."""
    from tests.support.stack_runner import run_stack

    central = stacks("central", {"agentstream:receive": {"replicas": 3, "replicationFactor": 3, "tenantHeader": "X-Scope-OrgID"}})
    assert central.outputs["tenant_header"] == "X-Scope-OrgID"
    sts = R.k8s_workload(central, "central-receive")
    assert R.flag(R.main_container(sts)["args"], "receive.tenant-header") == "X-Scope-OrgID"
    edge = run_stack("edge-batcopter", stack_outputs={"organization/agentstream/central": central.outputs})
    cfg = yaml.safe_load(R.k8s_file(edge, R.k8s_workload(edge, "batcopter-agent"), "/etc/prometheus/prometheus.yml")[0])
    assert cfg["remote_write"][0]["headers"] == {"X-Scope-OrgID": "batcopter"}


def test_edge_defaults_the_tenant_header_when_central_exports_none(stacks):
    run = stacks("edge-batmobile")  # the runner's mocked central exports no tenant_header
    cfg = yaml.safe_load(R.k8s_file(run, R.k8s_workload(run, "batmobile-agent"), "/etc/prometheus/prometheus.yml")[0])
    assert cfg["remote_write"][0]["headers"] == {"THANOS-TENANT": "batmobile"}


# -- wiring, per stack ---------------------------------------------------------------
def agent_configs(run):
    out = {}
    if run.config["agentstream:target"] == "docker":
        for c in R.containers(run):
            if "-agent-" in c.name:
                out[c.name] = yaml.safe_load(R.upload(c, "/etc/prometheus/prometheus.yml"))
    else:
        for w in R.k8s_kind(run, "StatefulSet"):
            if w.name.endswith("-agent-statefulset"):
                out[w.inputs["metadata"]["name"]] = yaml.safe_load(R.k8s_file(run, w, "/etc/prometheus/prometheus.yml")[0])
    return out


@pytest.mark.parametrize("stack,expected_host", [("dev", "central-receive"), ("k8s", "central-router.agentstream.svc.cluster.local")])
def test_agents_write_to_the_receive_service(stacks, stack, expected_host):
    run = stacks(stack)
    url = f"http://{expected_host}:19291/api/v1/receive"
    assert run.outputs["remote_write_url"] == url
    configs = agent_configs(run)
    assert configs
    for name, cfg in configs.items():
        for forbidden in ("rule_files", "alerting", "remote_read"):
            assert forbidden not in cfg
        (rw,) = cfg["remote_write"]
        assert rw["url"] == url, name
        assert rw["protobuf_message"] == "prometheus.WriteRequest"
        assert rw["queue_config"]["capacity"] > 0
        assert rw["headers"][run.outputs["tenant_header"]] == cfg["global"]["external_labels"]["cluster"]
    # the host is a real service: a network alias (docker) or a Service (k8s) with the port
    if stack == "dev":
        aliases = {al for c in R.containers(run) for al in c.inputs["networksAdvanced"][0]["aliases"]}
        assert "central-receive" in aliases
        assert all("--remote-write.address=0.0.0.0:19291" in c.inputs["command"] for c in R.containers_of(run, "central-receive"))
    else:
        svc = R.k8s_get(run, "Service", "central-router")
        assert 19291 in [p["port"] for p in svc.inputs["spec"]["ports"]]
        assert svc.inputs["spec"]["selector"] == R.k8s_workload(run, "central-router").inputs["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("stack", ["dev", "k8s", "central"])
def test_hashring_and_local_endpoints(stacks, stack):
    run = stacks(stack)
    ring = json.loads(run.outputs["hashring"])
    (entry,) = ring
    replicas = run.config["agentstream:receive"]["replicas"]
    assert len(entry["endpoints"]) == replicas
    if stack == "dev":
        local = [R.flag(c.inputs["command"], "receive.local-endpoint") for c in R.containers_of(run, "central-receive")]
        # A live file: the writers carry it onto the volume the receivers mount.
        files = {R.upload(run.named(f"central-receive-live-{w}"), HASHRINGS_FILE) for w in ("init", "sync")}
    else:
        sts = R.k8s_workload(run, "central-receive")
        tmpl = R.flag(R.main_container(sts)["args"], "receive.local-endpoint")
        local = [R.expand_instance(tmpl, pod) for pod in R.statefulset_pods(sts)]
        routed = "central-router" if run.config["agentstream:receive"].get("routerReplicas") else "central-receive"
        files = {R.k8s_get(run, "ConfigMap", f"{routed}-live").inputs["data"]["hashrings.json"]}
        mounts = R.main_container(R.k8s_workload(run, routed))["volumeMounts"]
        assert {"name": "live", "mountPath": HASHRINGS_FILE.rsplit("/", 1)[0], "readOnly": True} in mounts
    assert local == entry["endpoints"]
    assert files == {run.outputs["hashring"]}
    assert run.outputs["store_endpoints"][:replicas] == entry["endpoints"]
    assert run.outputs["store_endpoints"][replicas:] == [
        "central-store-0:10901" if stack == "dev" else "central-store-0.central-store.agentstream.svc.cluster.local:10901"
    ]


@pytest.mark.parametrize("stack", ["dev", "k8s", "central"])
def test_objstore_config_is_secret_everywhere(stacks, stack):
    run = stacks(stack)
    docker = run.config["agentstream:target"] == "docker"
    seen = 0
    for workload in ("central-receive", "central-store", "central-compact"):
        if docker:
            for c in R.containers_of(run, workload):
                idx = R.upload_index(c, "/etc/thanos/objstore.yml")
                assert c.is_secret(f"uploads.{idx}.content")
                text = c.inputs["uploads"][idx]["content"]
                seen += 1
        else:
            text, obj, path = R.k8s_file(run, R.k8s_workload(run, workload), "/etc/thanos/objstore.yml")
            assert obj.inputs["kind"] == "Secret" and obj.is_secret(path) and obj.is_secret("stringData")
            seen += 1
        cfg = yaml.safe_load(text)["config"]
        for cred in (cfg["access_key"], cfg["secret_key"]):
            assert R.plain_occurrences(run, cred) == [], f"{cred!r} in plain inputs"
    assert seen >= 3


@pytest.mark.parametrize("stack", SHIPPED)
def test_outputs(stacks, stack):
    run = stacks(stack)
    cfg = load_stack_config(stack)
    fleets = cfg.get("agentstream:fleets", [])
    assert run.outputs["fleets"] == {f["name"]: [f"{f['name']}-agent-{i}" for i in range(f["agents"])] for f in fleets}
    if cfg["agentstream:role"] == "edge":
        assert set(run.outputs) == {"central_stack", "fleets"}
        return
    alerting = (cfg.get("agentstream:alerting") or {}).get("enabled", False)
    assert set(run.outputs) == CENTRAL_EXPORTS | (ALERTING_EXPORTS if alerting else set())
    assert run.outputs["tenant_header"] == "THANOS-TENANT"
    assert run.outputs["bucket"] == "thanos"
    if cfg["agentstream:target"] == "docker":
        assert run.outputs["query_url"] == run.outputs["query_direct_url"] == "http://127.0.0.1:10902"
        assert run.outputs["external_remote_write_url"] == "http://127.0.0.1:19291/api/v1/receive"
        assert run.outputs["object_store_endpoint"] == "http://objstore-seaweedfs:8333"
    else:
        # The production-shaped stacks query through the Query Frontend.
        assert run.outputs["query_url"] == "http://central-query-frontend.agentstream.svc.cluster.local:10902"
        assert run.outputs["query_direct_url"] == "http://central-query.agentstream.svc.cluster.local:10902"
        assert run.outputs["object_store_endpoint"] == "http://objstore-seaweedfs.agentstream.svc.cluster.local:8333"
    assert not run.secret_outputs  # the secrets stay in resources, not in exports


# -- engines through the stack program ------------------------------------------------------
EXTERNAL = "type: S3\nconfig:\n  bucket: ext-bucket\n  endpoint: s3.example.com\n  access_key: AKEXTERNAL01\n  secret_key: ext-s3cr3t-9f8e7d\n"


@pytest.mark.parametrize("stack", ["dev", "k8s"])
def test_external_engine_config_stays_secret(stacks, stack):
    run = stacks(stack, {"agentstream:objectStore": {"engine": "external"}, "agentstream:objstoreConfig": EXTERNAL})
    assert not [r for r in run.resources if r.name.startswith("objstore-")]  # nothing self-hosted
    assert run.outputs["object_store_endpoint"] == "external"
    assert run.outputs["bucket"] == "ext-bucket"
    assert "bucket" in run.secret_outputs
    for needle in ("AKEXTERNAL01", "ext-s3cr3t-9f8e7d", EXTERNAL):
        assert R.plain_occurrences(run, needle) == []
    assert EXTERNAL in R.secret_values(run)
    if stack == "dev":
        for w in ("central-receive", "central-store", "central-compact"):
            for c in R.containers_of(run, w):
                assert R.upload(c, "/etc/thanos/objstore.yml") == EXTERNAL
    else:
        for w in ("central-receive", "central-store", "central-compact"):
            assert R.k8s_file(run, R.k8s_workload(run, w), "/etc/thanos/objstore.yml")[0] == EXTERNAL


@pytest.mark.parametrize("stack", ["dev", "k8s"])
def test_minio_engine(stacks, stack):
    run = stacks(stack, {"agentstream:objectStore": {"engine": "minio", "bucket": "thanos"}})
    assert not [r for r in run.resources if "seaweedfs" in r.name]
    host = "objstore-minio" if stack == "dev" else "objstore-minio.agentstream.svc.cluster.local"
    assert run.outputs["object_store_endpoint"] == f"http://{host}:9000"
    if stack == "dev":
        text = R.upload(R.containers_of(run, "central-store")[0], "/etc/thanos/objstore.yml")
    else:
        text = R.k8s_file(run, R.k8s_workload(run, "central-store"), "/etc/thanos/objstore.yml")[0]
    assert yaml.safe_load(text)["config"]["endpoint"] == f"{host}:9000"


def test_filesystem_engine_on_dev(stacks):
    run = stacks("dev", {"agentstream:objectStore": {"engine": "filesystem"}})
    assert run.outputs["object_store_endpoint"] == "file:///var/thanos/bucket"
    for w in ("central-receive", "central-store", "central-compact"):
        for c in R.containers_of(run, w):
            assert yaml.safe_load(R.upload(c, "/etc/thanos/objstore.yml")) == {"type": "FILESYSTEM", "config": {"directory": "/var/thanos/bucket"}}
            assert {"volumeName": "objstore-bucket", "containerPath": "/var/thanos/bucket", "readOnly": False} in c.inputs["volumes"]
    assert not [c for c in R.containers(run) if c.name.startswith("objstore-")]


def test_image_overrides_reach_containers(stacks):
    run = stacks("dev", {"agentstream:images": {"thanos": "quay.io/thanos/thanos:v0.41.0", "prometheus": "quay.io/prometheus/prometheus:v3.5.0"}})
    images = {c.name: c.inputs["image"] for c in R.containers(run)}
    assert images["central-receive-0"] == "quay.io/thanos/thanos:v0.41.0"
    assert images["batmobile-agent-0"] == "quay.io/prometheus/prometheus:v3.5.0"
    assert images["objstore-seaweedfs-0"].startswith("chrislusf/seaweedfs:")
