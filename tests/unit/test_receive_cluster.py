"""ReceiveCluster on both targets, constructed directly under mocks."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

import agentstream as a
from agentstream import versions
from agentstream.config.thanos import HASHRINGS_FILE, HASHRINGS_REFRESH_SECONDS
from agentstream.receive_cluster import request_limits_for, validate_receive_args, write_quorum
from tests.support import resources as R
from tests.support.programs import K8S_NAMESPACE, run_on

NS = K8S_NAMESPACE


def build(args=None, engine="seaweedfs"):
    def program(target):
        store = a.ObjectStore("objstore", {"engine": engine, "target": target}) if engine else None
        rc = a.ReceiveCluster("central", {**(args or {}), "target": target, "object_store": store})
        for k in ("query_url", "query_direct_url", "remote_write_url", "external_remote_write_url", "store_endpoints", "hashring"):
            pulumi.export(k, getattr(rc, k))

    return program


def svc(kind, workload):
    return workload if kind == "docker" else f"{workload}.{NS}.svc.cluster.local"


def pod_host(kind, workload, i):
    return f"{workload}-{i}" if kind == "docker" else f"{workload}-{i}.{workload}.{NS}.svc.cluster.local"


def receive_args_by_instance(run, kind, workload="central-receive"):
    """instance name -> args as the process sees them ($(INSTANCE) expanded on k8s)."""
    if kind == "docker":
        return {c.name: c.inputs["command"] for c in R.containers_of(run, workload)}
    sts = R.k8s_workload(run, workload)
    args = R.main_container(sts)["args"]
    return {pod: [R.expand_instance(x, pod) for x in args] for pod in R.statefulset_pods(sts)}


def file_of(run, kind, workload, path):
    if kind == "docker":
        contents = {R.upload(c, path) for c in R.containers_of(run, workload)}
        assert len(contents) == 1, "every instance gets the same file"
        return contents.pop()
    return R.k8s_file(run, R.k8s_workload(run, workload), path)[0]


# -- graph ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_children_named_and_parented(kind):
    run = run_on(kind, build({"replicas": 3}))
    comp = R.component(run, "central")
    assert comp.parent is not None and comp.parent.endswith("pulumi:pulumi:Stack::agentstream-unit-" + kind)
    kids = run.children(comp)
    assert kids
    assert all(r.name.startswith("central-") for r in kids), [r.name for r in kids]
    # nothing of the cluster leaks to other parents
    for r in run.resources:
        if r.name.startswith("central-"):
            assert r.parent == comp.urn, r.name


def test_docker_graph():
    run = run_on("docker", build({"replicas": 3, "query_replicas": 2}))
    assert [c.name for c in R.containers_of(run, "central-receive")] == [f"central-receive-{i}" for i in range(3)]
    assert len(R.containers_of(run, "central-query")) == 2
    assert len(R.containers_of(run, "central-store")) == 1
    assert len(R.containers_of(run, "central-compact")) == 1
    for c in R.containers(run):
        if c.name.startswith("central-"):
            assert c.inputs["image"] == versions.THANOS_IMAGE


def test_kubernetes_graph():
    run = run_on("kubernetes", build({"replicas": 3, "query_replicas": 2}))
    assert R.k8s_workload(run, "central-receive").inputs["kind"] == "StatefulSet"
    assert R.k8s_workload(run, "central-receive").inputs["spec"]["replicas"] == 3
    assert R.k8s_workload(run, "central-store").inputs["kind"] == "StatefulSet"
    q = R.k8s_workload(run, "central-query")
    assert q.inputs["kind"] == "Deployment" and q.inputs["spec"]["replicas"] == 2
    compact = R.k8s_workload(run, "central-compact")
    assert compact.inputs["spec"]["replicas"] == 1
    for name in ("central-receive", "central-store"):
        service = R.k8s_get(run, "Service", name)
        assert service.inputs["spec"]["clusterIP"] == "None"
        assert R.k8s_workload(run, name).inputs["spec"]["serviceName"] == name
    assert R.k8s_get(run, "Service", "central-query").inputs["spec"].get("clusterIP") is None


# -- hashring and local endpoints ------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
@pytest.mark.parametrize("replicas,rf", [(1, 1), (3, 3), (4, 2), (5, 3)])
def test_local_endpoint_equals_hashring_entry(kind, replicas, rf):
    run = run_on(kind, build({"replicas": replicas, "replication_factor": rf}))
    ring = json.loads(R.live_file(run, kind, "central-receive", HASHRINGS_FILE))
    assert ring == json.loads(run.outputs["hashring"])
    (entry,) = ring
    expected = [f"{pod_host(kind, 'central-receive', i)}:10901" for i in range(replicas)]
    assert entry["endpoints"] == expected
    assert entry["algorithm"] == "ketama"
    per_instance = receive_args_by_instance(run, kind)
    assert sorted(per_instance) == [f"central-receive-{i}" for i in range(replicas)]
    local = [R.flag(per_instance[f"central-receive-{i}"], "receive.local-endpoint") for i in range(replicas)]
    assert local == entry["endpoints"]  # byte for byte, in order
    for inst, args in per_instance.items():
        assert R.flag(args, "receive.replication-factor") == str(rf)
        assert R.flag(args, "receive.hashrings-file") == HASHRINGS_FILE
        assert R.flag(args, "receive.hashrings-file-refresh-interval") == f"{HASHRINGS_REFRESH_SECONDS}s"
        assert R.flag(args, "receive.hashrings-algorithm") == "ketama"
        assert R.flag(args, "label") == f'receive_replica="{inst}"'


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_hashmod(kind):
    run = run_on(kind, build({"replicas": 2, "replication_factor": 1, "hashring_algorithm": "hashmod"}))
    assert json.loads(run.outputs["hashring"])[0]["algorithm"] == "hashmod"
    for args in receive_args_by_instance(run, kind).values():
        assert R.flag(args, "receive.hashrings-algorithm") == "hashmod"


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_router_tier(kind):
    run = run_on(kind, build({"replicas": 3, "router_replicas": 2}))
    ring = json.loads(R.live_file(run, kind, "central-router", HASHRINGS_FILE))[0]
    ingest = receive_args_by_instance(run, kind, "central-receive")
    assert ring["endpoints"] == [R.flag(ingest[f"central-receive-{i}"], "receive.local-endpoint") for i in range(3)]
    for args in ingest.values():
        assert R.flags(args, "receive.hashrings-file") == []  # ingest only
    routers = receive_args_by_instance(run, kind, "central-router")
    assert len(routers) == 2
    for args in routers.values():
        assert R.flag(args, "receive.replication-factor") == "3"
        assert R.flags(args, "receive.local-endpoint") == []
        assert R.flags(args, "objstore.config-file") == []
    assert run.outputs["remote_write_url"] == f"http://{svc(kind, 'central-router')}:19291/api/v1/receive"
    # query still reads the ingesters, not the routers
    assert all("central-router" not in e for e in run.outputs["store_endpoints"])
    if kind == "docker":
        published = {c.name: c.inputs.get("ports") for c in R.containers(run) if c.inputs.get("ports")}
        assert published["central-router-0"] == [{"ip": "127.0.0.1", "internal": 19291, "external": 19291}]
        assert not any(n.startswith("central-receive") for n in published)


# -- write limits ---------------------------------------------------------------------
LIMITS = {"max_concurrency": 30, "request": {"series_limit": 5000}, "tenants": {"noisy": {"size_bytes_limit": 4096}}}


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
@pytest.mark.parametrize("routers", [0, 2])
def test_limits_file_on_the_tier_that_takes_remote_write(kind, routers):
    run = run_on(kind, build({"replicas": 2, "router_replicas": routers, "limits": LIMITS}))
    writer = "central-router" if routers else "central-receive"
    limits = yaml.safe_load(file_of(run, kind, writer, "/etc/thanos/limits.yml"))
    assert limits == {
        "write": {
            "global": {"max_concurrency": 30},
            "default": {"request": {"series_limit": 5000}},
            "tenants": {"noisy": {"request": {"size_bytes_limit": 4096}}},
        }
    }
    for args in receive_args_by_instance(run, kind, writer).values():
        assert R.flag(args, "receive.limits-config-file") == "/etc/thanos/limits.yml"
    if routers:
        # Ingesters get writes over gRPC from the routers; limits act on HTTP.
        for args in receive_args_by_instance(run, kind, "central-receive").values():
            assert R.flags(args, "receive.limits-config-file") == []


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_no_limits_file_by_default(kind):
    run = run_on(kind, build({"replicas": 1}))
    for args in receive_args_by_instance(run, kind).values():
        assert R.flags(args, "receive.limits-config-file") == []
    with pytest.raises(AssertionError, match="expected one"):
        file_of(run, kind, "central-receive", "/etc/thanos/limits.yml")


def test_request_limits_for_a_tenant_fall_back_to_the_default():
    limits = validate_receive_args({"limits": LIMITS}).limits
    assert request_limits_for(limits, "noisy") == {"size_bytes_limit": 4096, "series_limit": 5000, "samples_limit": 0}
    assert request_limits_for(limits, "batmobile") == {"size_bytes_limit": 0, "series_limit": 5000, "samples_limit": 0}
    assert request_limits_for(None, "batmobile") == {"size_bytes_limit": 0, "series_limit": 0, "samples_limit": 0}


# -- ingress (edges in other clusters) ------------------------------------------------
@pytest.mark.parametrize("routers", [0, 2])
def test_ingress_routes_remote_write_to_the_write_tier(routers):
    ingress = {"host": "receive.example.com", "tls_secret_name": "receive-tls"}
    run = run_on("kubernetes", build({"replicas": 2, "router_replicas": routers}), {"ingress": ingress})
    writer = "central-router" if routers else "central-receive"
    (ing,) = R.k8s_kind(run, "Ingress")  # query, store and ingesters stay inside
    (path,) = ing.inputs["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/api/v1/receive"
    assert path["backend"]["service"] == {"name": writer, "port": {"name": "remote-write"}}
    assert run.outputs["external_remote_write_url"] == "https://receive.example.com/api/v1/receive"
    # In-cluster writers keep using the service.
    assert run.outputs["remote_write_url"] == f"http://{svc('kubernetes', writer)}:19291/api/v1/receive"


def test_no_ingress_when_remote_write_is_not_published():
    run = run_on("kubernetes", build({"replicas": 1, "publish_remote_write": False}), {"ingress": {"host": "receive.example.com"}})
    assert R.k8s_kind(run, "Ingress") == []


# -- query and outputs ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_query_fans_out_and_dedups(kind):
    run = run_on(kind, build({"replicas": 3, "agent_replica_labels": ["prometheus_replica", "replica"]}))
    expected = [f"{pod_host(kind, 'central-receive', i)}:10901" for i in range(3)] + [f"{pod_host(kind, 'central-store', 0)}:10901"]
    assert run.outputs["store_endpoints"] == expected
    sd = yaml.safe_load(file_of(run, kind, "central-query", "/etc/thanos/endpoints.yaml"))
    assert [e["address"] for e in sd["endpoints"]] == expected
    args = R.containers_of(run, "central-query")[0].inputs["command"] if kind == "docker" else R.main_container(R.k8s_workload(run, "central-query"))["args"]
    assert args[0] == "query"
    assert R.flags(args, "query.replica-label") == ["receive_replica", "prometheus_replica", "replica"]
    assert R.flag(args, "endpoint.sd-config-file") == "/etc/thanos/endpoints.yaml"
    assert not R.flags(args, "store") and not R.flags(args, "endpoint")  # removed / deprecated


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_outputs(kind):
    run = run_on(kind, build({"replicas": 2, "replication_factor": 2}))
    assert run.outputs["remote_write_url"] == f"http://{svc(kind, 'central-receive')}:19291/api/v1/receive"
    if kind == "docker":
        assert run.outputs["query_url"] == "http://127.0.0.1:10902"
        assert run.outputs["external_remote_write_url"] == "http://127.0.0.1:19291/api/v1/receive"
    else:
        assert run.outputs["query_url"] == f"http://central-query.{NS}.svc.cluster.local:10902"
    ring = json.loads(run.outputs["hashring"])
    assert ring[0]["endpoints"] == run.outputs["store_endpoints"][:2]


def test_docker_custom_host_ports():
    run = run_on("docker", build({"query_port": 19090, "remote_write_port": 29291}), {"publish_address": "0.0.0.0"})
    assert run.outputs["query_url"] == "http://0.0.0.0:19090"
    assert run.outputs["external_remote_write_url"] == "http://0.0.0.0:29291/api/v1/receive"
    q = R.containers_of(run, "central-query")[0]
    assert q.inputs["ports"] == [{"ip": "0.0.0.0", "internal": 10902, "external": 19090}]
    # the in-network URL keeps the container port
    assert run.outputs["remote_write_url"] == "http://central-receive:19291/api/v1/receive"


def test_docker_publish_remote_write_off():
    run = run_on("docker", build({"publish_remote_write": False}))
    published = [c.name for c in R.containers(run) if c.inputs.get("ports")]
    assert published == ["central-query-0"]


# -- object store wiring -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_objstore_reaches_receive_store_compact_as_secret(kind):
    run = run_on(kind, build({"replicas": 2, "replication_factor": 1}))
    for workload in ("central-receive", "central-store", "central-compact"):
        if kind == "docker":
            cs = R.containers_of(run, workload)
            assert cs
            for c in cs:
                i = R.upload_index(c, "/etc/thanos/objstore.yml")
                assert c.is_secret(f"uploads.{i}.content")
                assert yaml.safe_load(c.inputs["uploads"][i]["content"])["type"] == "S3"
                assert R.flag(c.inputs["command"], "objstore.config-file") == "/etc/thanos/objstore.yml"
        else:
            w = R.k8s_workload(run, workload)
            content, obj, path = R.k8s_file(run, w, "/etc/thanos/objstore.yml")
            assert obj.inputs["kind"] == "Secret" and obj.is_secret(path)
            assert yaml.safe_load(content)["type"] == "S3"
            assert R.flag(R.main_container(w)["args"], "objstore.config-file") == "/etc/thanos/objstore.yml"
    assert R.flags(
        (R.containers_of(run, "central-query")[0].inputs["command"] if kind == "docker" else R.main_container(R.k8s_workload(run, "central-query"))["args"]),
        "objstore.config-file",
    ) == []


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_without_object_store(kind):
    run = run_on(kind, build({"replicas": 2, "replication_factor": 2}, engine=None))
    names = {r.name for r in run.resources}
    assert not any(n.startswith(("central-store", "central-compact")) for n in names)
    assert run.outputs["store_endpoints"] == [f"{pod_host(kind, 'central-receive', i)}:10901" for i in range(2)]
    for args in receive_args_by_instance(run, kind).values():
        assert R.flags(args, "objstore.config-file") == []


def test_compactor_flags():
    run = run_on("docker", build({"replica_label": "rr"}))
    (c,) = R.containers_of(run, "central-compact")
    args = c.inputs["command"]
    assert args[0] == "compact" and "--wait" in args
    assert R.flag(args, "deduplication.replica-label") == "rr"
    # The bucket is the long-term store: kept forever unless configured.
    assert [R.flag(args, f"retention.resolution-{r}") for r in ("raw", "5m", "1h")] == ["0d", "0d", "0d"]


def test_bucket_retention_reaches_the_compactor():
    run = run_on("docker", build({"bucket_retention_raw": "40h", "bucket_retention_5m": "90d", "bucket_retention_1h": "2y"}))
    (c,) = R.containers_of(run, "central-compact")
    assert [R.flag(c.inputs["command"], f"retention.resolution-{r}") for r in ("raw", "5m", "1h")] == ["40h", "90d", "2y"]


def test_tenancy_and_tsdb_flags():
    run = run_on("docker", build({"tenant_header": "X-Scope-OrgID", "default_tenant": "anon", "tenant_label": "tenant", "retention": "12h", "block_duration": "2h"}))
    for args in receive_args_by_instance(run, "docker").values():
        assert R.flag(args, "receive.tenant-header") == "X-Scope-OrgID"
        assert R.flag(args, "receive.default-tenant-id") == "anon"
        assert R.flag(args, "receive.tenant-label-name") == "tenant"
        assert R.flag(args, "tsdb.retention") == "12h"
        assert R.flag(args, "tsdb.min-block-duration") == R.flag(args, "tsdb.max-block-duration") == "2h"


# -- PDB and quorum ------------------------------------------------------------------
@pytest.mark.parametrize("replicas,rf", [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (5, 2), (6, 6), (5, 3)])
def test_pdb_keeps_write_quorum(replicas, rf):
    """At most RF - quorum receivers down: every series keeps a write quorum
    of its RF copies (floor(RF/2) for odd RF; one less for RF 4 and 6)."""
    run = run_on("kubernetes", build({"replicas": replicas, "replication_factor": rf}, engine=None))
    pdb = R.k8s_get(run, "PodDisruptionBudget", "central-receive")
    allowed = pdb.inputs["spec"]["maxUnavailable"]
    assert allowed == rf - write_quorum(rf) == {1: 0, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2}[rf]
    assert allowed <= rf // 2  # never looser than the policy's floor(RF/2)
    sts = R.k8s_workload(run, "central-receive")
    assert pdb.inputs["spec"]["selector"]["matchLabels"] == sts.inputs["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("rf,quorum", [(1, 1), (2, 1), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_write_quorum(rf, quorum):
    assert write_quorum(rf) == quorum


# -- args -------------------------------------------------------------------------------
def test_defaults():
    a_ = validate_receive_args({})
    assert (a_.replicas, a_.replication_factor, a_.hashring_algorithm, a_.router_replicas) == (3, 3, "ketama", 0)
    assert validate_receive_args({"replicas": 2}).replication_factor == 2  # capped at replicas


@pytest.mark.parametrize(
    "args,field,allowed",
    [
        ({"replicas": 2, "replication_factor": 3}, "receive.replicationFactor", "1 to 2"),
        ({"replication_factor": 0}, "receive.replicationFactor", ">= 1"),
        ({"replicas": 0}, "receive.replicas", "between 1 and 64"),
        ({"replicas": "3"}, "receive.replicas", "integer"),
        ({"hashring_algorithm": "random"}, "receive.hashringAlgorithm", "ketama, hashmod"),
        ({"replica_label": "1abc"}, "receive.replicaLabel", "[a-zA-Z_]"),
        ({"replica_label": "prometheus_replica"}, "receive.replicaLabel", "different from"),
        ({"replica_label": "tenant_id"}, "receive.replicaLabel", "different from"),
        ({"agent_replica_labels": ["ok", "not-ok"]}, "receive.agentReplicaLabels[1]", "[a-zA-Z_]"),
        ({"tenant_header": "bad header"}, "receive.tenantHeader", "letters, digits"),
        ({"retention": "1h", "block_duration": "2h"}, "receive.retention", "at least one block"),
        ({"retention": "forever"}, "receive.retention", "Prometheus duration"),
        ({"query_port": 70000}, "receive.queryPort", "between 1 and 65535"),
        ({"query_port": 19291}, "queryPort, remoteWritePort", "unique"),
        ({"router_replicas": -1}, "receive.routerReplicas", "between 0 and 16"),
        ({"bucket_retention_raw": "1d"}, "receive.bucketRetentionRaw", "at least 40h"),
        ({"bucket_retention_5m": "7d"}, "receive.bucketRetention5m", "at least 10d"),
        ({"bucket_retention_1h": "forever"}, "receive.bucketRetention1h", "Prometheus duration"),
        ({"limits": []}, "receive.limits", "allowed keys: max_concurrency, request, tenants"),
        ({"limits": {"burst": 1}}, "receive.limits.burst", "allowed keys: max_concurrency, request, tenants"),
        ({"limits": {"max_concurrency": -1}}, "receive.limits.max_concurrency", ">= 0"),
        ({"limits": {"request": {"series": 10}}}, "receive.limits.request.series", "size_bytes_limit, series_limit, samples_limit"),
        ({"limits": {"request": {"samples_limit": "1k"}}}, "receive.limits.request.samples_limit", "integer"),
        ({"limits": {"tenants": ["a"]}}, "receive.limits.tenants", "mapping"),
        ({"limits": {"tenants": {"a": {"head_series_limit": 5}}}}, "receive.limits.tenants.a.head_series_limit", "series_limit"),
        ({"limits": {"tenants": {"a": {"series_limit": -5}}}}, "receive.limits.tenants.a.series_limit", ">= 0"),
        ({"limits": {"tenants": {"team/a": {"series_limit": 5}}}}, "receive.limits.tenants.team/a", "not a valid Thanos tenant"),
        ({"limits": {"tenants": {"": {"series_limit": 5}}}}, "receive.limits.tenants.", "a non-empty name"),
        ({"default_tenant": "a/b"}, "receive.defaultTenant", "without '/'"),
        ({"default_tenant": "."}, "receive.defaultTenant", "other than '.' and '..'"),
        ({"default_tenant": ""}, "receive.defaultTenant", "a non-empty name"),
        ({"storage_size": "twenty gigs"}, "receive.storageSize", "positive Kubernetes quantity"),
        ({"storage_size": "-10Gi"}, "receive.storageSize", "10Gi, 500Mi or 500M"),
        ({"storage_size": 10}, "receive.storageSize", "10 is not a valid size"),
        ({"retention": "0d"}, "receive.retention", "zero duration"),
        ({"block_duration": "0m"}, "receive.blockDuration", "zero duration"),
        ({"bucket_sync_interval": "0s"}, "receive.bucketSyncInterval", "above zero"),
        ({"bucket_retention_raw": "0"}, "receive.bucketRetentionRaw", "Prometheus duration"),
        ({"out_of_order_window": "30 minutes"}, "receive.outOfOrderWindow", "Prometheus duration"),
        ({"out_of_order_window": 1800}, "receive.outOfOrderWindow", "Prometheus duration"),
        ({"out_of_order_window": "7h"}, "receive.outOfOrderWindow", "longer than receive.retention (6h)"),
        ({"retention": "2h", "out_of_order_window": "3h"}, "receive.outOfOrderWindow", "0s (off) or a window up to the retention"),
        ({"compact_consistency_delay": "soon"}, "receive.compactConsistencyDelay", "Prometheus duration"),
        ({"outOfOrderWindow": "1h"}, "ReceiveClusterArgs.outOfOrderWindow", "did you mean 'out_of_order_window'?"),
        # The Python API: unknown keys, camelCase spellings of real ones.
        ({"replicationFactor": 2}, "ReceiveClusterArgs.replicationFactor", "did you mean 'replication_factor'?"),
        ({"storageSize": "1Gi"}, "ReceiveClusterArgs.storageSize", "did you mean 'storage_size'?"),
        ({"replica": 3}, "ReceiveClusterArgs.replica", "did you mean 'replicas'?"),
        ({"tsdb_path": "/x"}, "ReceiveClusterArgs.tsdb_path: unknown key;", "allowed keys: replicas, replication_factor"),
    ],
)
def test_validation(args, field, allowed):
    with pytest.raises(ValueError) as e:
        validate_receive_args(args)
    assert field in str(e.value) and allowed in str(e.value)


def test_same_host_port_allowed_when_remote_write_not_published():
    assert validate_receive_args({"query_port": 19291, "publish_remote_write": False}).query_port == 19291


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_invalid_args_register_nothing_of_the_cluster(kind):
    with pytest.raises(ValueError, match="replicationFactor") as e:
        run_on(kind, build({"replicas": 1, "replication_factor": 2}, engine=None))
    assert not [r for r in e.value.recorded if r.name.startswith("central")]


def test_zero_bucket_retention_in_any_unit_means_forever():
    a_ = validate_receive_args({"bucket_retention_raw": "0s", "bucket_retention_5m": "0h", "bucket_retention_1h": "0m"})
    assert (a_.bucket_retention_raw, a_.bucket_retention_5m, a_.bucket_retention_1h) == ("0s", "0h", "0m")


def test_valid_tenants_and_sizes_accepted():
    a_ = validate_receive_args(
        {"default_tenant": "anonymous", "storage_size": "500M", "limits": {"tenants": {"team-a": {"series_limit": 5}, "528d0490-8720-4478-aa29-819d90fc9a9f": {}}}}
    )
    assert a_.storage_size == "500M" and set(a_.limits.tenants) == {"team-a", "528d0490-8720-4478-aa29-819d90fc9a9f"}


@pytest.mark.parametrize(
    "make,error,needle",
    [
        (lambda t: a.ReceiveCluster("central", {"replicationFactor": 1, "target": t}), ValueError,
         "ReceiveClusterArgs.replicationFactor: unknown key (did you mean 'replication_factor'?)"),
        (lambda t: a.ReceiveCluster("central", "replicas=3"), TypeError, "ReceiveClusterArgs: 'replicas=3' is not a mapping"),
        (lambda t: a.ReceiveCluster("central", {"target": "kubernetes"}), TypeError,
         "ReceiveClusterArgs.target: 'kubernetes' is a str, not a Target; allowed: a DockerTarget or KubernetesTarget"),
        (lambda t: a.ReceiveCluster("central", {"replicas": 1}), TypeError,
         "ReceiveClusterArgs.target: None is a NoneType, not a Target; allowed: a DockerTarget or KubernetesTarget"),
        (lambda t: a.ReceiveCluster("central", {"target": t, "object_store": "objstore"}), TypeError,
         "ReceiveClusterArgs.object_store: 'objstore' is a str, not an ObjectStore; allowed: an ObjectStore, or none (no bucket)"),
        (lambda t: a.ReceiveCluster("central", {"target": t, "object_store": {"engine": "minio"}}), TypeError,
         "ReceiveClusterArgs.object_store: {'engine': 'minio'} is a dict, not an ObjectStore"),
        (lambda t: a.ReceiveCluster("central", {"target": t, "object_store": t}), TypeError,
         "ReceiveClusterArgs.object_store: <agentstream.targets.docker.DockerTarget"),
        (lambda t: a.ReceiveCluster("central", {"target": t, "object_store": t}), TypeError, "is a DockerTarget, not an ObjectStore"),
    ],
)
def test_bad_python_args_register_nothing_of_the_cluster(make, error, needle):
    with pytest.raises(error) as e:
        run_on("docker", make)
    assert needle in str(e.value), str(e.value)
    assert not [r for r in e.value.recorded if r.name.startswith("central")]


# -- query frontend -----------------------------------------------------------------------------
def workload_args(run, kind, workload):
    if kind == "docker":
        return R.containers_of(run, workload)[0].inputs["command"]
    return R.main_container(R.k8s_workload(run, workload))["args"]


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_query_frontend_in_front_of_query(kind):
    run = run_on(kind, build({"query_frontend": {"replicas": 2, "split_interval": "12h"}}))
    args = workload_args(run, kind, "central-query-frontend")
    assert args[0] == "query-frontend"
    assert R.flag(args, "query-frontend.downstream-url") == f"http://{svc(kind, 'central-query')}:10902"
    assert R.flag(args, "query-range.split-interval") == "12h"
    assert R.flag(args, "query-range.max-retries-per-request") == "5"
    cache = yaml.safe_load(file_of(run, kind, "central-query-frontend", "/etc/thanos/frontend-cache.yml"))
    assert cache == {"type": "IN-MEMORY", "config": {"max_size": "256MB"}}
    if kind == "docker":
        # Both published: the frontend for people, Query for comparison and tools.
        assert run.outputs["query_url"] == "http://127.0.0.1:10912"
        assert run.outputs["query_direct_url"] == "http://127.0.0.1:10902"
        assert len(R.containers_of(run, "central-query-frontend")) == 2
    else:
        assert run.outputs["query_url"] == f"http://central-query-frontend.{NS}.svc.cluster.local:10902"
        assert run.outputs["query_direct_url"] == f"http://central-query.{NS}.svc.cluster.local:10902"
        assert R.k8s_workload(run, "central-query-frontend").inputs["spec"]["replicas"] == 2


@pytest.mark.parametrize("cache,expected", [
    ({"type": "memcached", "addresses": ["memcached-0:11211", "memcached-1:11211"]},
     {"type": "MEMCACHED", "config": {"addresses": ["memcached-0:11211", "memcached-1:11211"]}}),
    ({"type": "redis", "address": "redis:6379"}, {"type": "REDIS", "config": {"addr": "redis:6379"}}),
    ({"max_size": "1GB"}, {"type": "IN-MEMORY", "config": {"max_size": "1GB"}}),
])
def test_query_frontend_cache(cache, expected):
    run = run_on("kubernetes", build({"query_frontend": {"cache": cache}}))
    assert yaml.safe_load(file_of(run, "kubernetes", "central-query-frontend", "/etc/thanos/frontend-cache.yml")) == expected


def test_no_query_frontend_by_default_or_when_disabled():
    for args in ({}, {"query_frontend": {"enabled": False}}):
        run = run_on("kubernetes", build(args))
        assert [r for r in R.k8s_objects(run) if "query-frontend" in r.name] == []
        assert run.outputs["query_url"] == run.outputs["query_direct_url"]


def test_settings_are_typed_and_frozen():
    """Validation returns the typed settings once: attributes, not keys, and
    nothing downstream can change what was validated."""
    import dataclasses

    from agentstream.settings import ReceiveSettings

    s = validate_receive_args({"limits": LIMITS, "query_frontend": {}, "scheduling": {"node_selector": {"zone": "a"}}})
    assert isinstance(s, ReceiveSettings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.replicas = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.scheduling["node_selector"]["zone"] = "b"  # type: ignore[index]
    with pytest.raises(TypeError):
        s.limits.tenants["noisy"]["series_limit"] = 1  # type: ignore[index,union-attr]
    assert s.agent_replica_labels == ("prometheus_replica",)
    assert s.query_frontend is not None and s.query_frontend.cache.type == "in-memory"
