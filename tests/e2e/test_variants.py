"""The other shapes, for real, through the real engine: a split deployment
(a central stack and an edge stack that reads central's outputs through a
real StackReference on the file backend), a router tier in front of
ingest-only receivers (as the k8s stack runs it), hashmod, the FILESYSTEM
object store, and per-tenant write limits on the routers.

A smaller topology than the dev stack, so it stays quick: 2 routers, 2
ingesters at RF 2, one edge fleet of 2 agents.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.conftest import (
    QUERY_PORT,
    REMOTE_WRITE_PORT,
    Query,
    bucket_blocks,
    log,
    part_of_leftovers,
    push_samples,
    wait_for,
)

pytestmark = pytest.mark.e2e

NETWORK = "agentstream-e2e-central"
TOKEN = "e2e-remote-write-token-5b0f1c9e"


def central_config() -> dict:
    return {
        "agentstream:target": "docker",
        "agentstream:role": "central",
        "agentstream:docker": {"network": NETWORK},
        "agentstream:objectStore": {"engine": "filesystem"},
        "agentstream:receive": {
            "replicas": 2,
            "replicationFactor": 2,
            "routerReplicas": 2,
            "hashringAlgorithm": "hashmod",
            "blockDuration": "1m",
            "bucketSyncInterval": "15s",
            "queryPort": QUERY_PORT,
            # 5m pieces, so a 1h range query really is split (12 pieces).
            "queryFrontend": {"splitInterval": "5m"},
            "remoteWritePort": REMOTE_WRITE_PORT,
            # gotham's batches fit the default; "noisy" gets a tiny body limit.
            "limits": {"request": {"samples_limit": 20000}, "tenants": {"noisy": {"size_bytes_limit": 1024}}},
            # Sizing overridden for one role: what Docker and the kernel
            # enforce must be these values, not the defaults.
            "resources": {"query": {"requests": {"memory": "96Mi"}, "limits": {"cpu": "1500m", "memory": "768Mi"}}},
        },
    }


def edge_config(central_ref: str) -> dict:
    return {
        "agentstream:target": "docker",
        "agentstream:role": "edge",
        "agentstream:centralStack": central_ref,
        # The edge's containers join central's network (as an edge in another
        # namespace of central's cluster would) and write to its internal URL.
        "agentstream:centralEndpoint": "internal",
        "agentstream:docker": {"network": NETWORK, "createNetwork": False},
        # Bearer auth: receive itself ignores the header (an ingress or proxy
        # checks it), so this proves the secret's path, not the check.
        "agentstream:fleets": [
            {"name": "gotham", "agents": 2, "scrapeInterval": "5s", "remoteWriteAuth": {"type": "bearer"}}
        ],
    }


class Split:
    def __init__(self, central, edge, docker_client):
        self.central, self.edge, self.docker = central, edge, docker_client
        self.central_outputs = central.outputs()
        self.q = Query(self.central_outputs["query_url"])
        self.agents = edge.outputs()["fleets"]["gotham"]


@pytest.fixture(scope="module")
def split(backend, docker_client):
    log("variant: central (routers + ingesters, hashmod, FILESYSTEM bucket) + edge via StackReference")
    central = backend.stack("central-e2e", central_config())
    edge = backend.stack(
        "edge-gotham-e2e",
        edge_config(backend.stack_ref("central-e2e")),
        secrets={"agentstream:remoteWriteSecret": TOKEN},
    )
    try:
        central.up()
        edge.up()
        yield Split(central, edge, docker_client)
    finally:
        # The edge first: its containers sit on central's network.
        edge.destroy()
        central.destroy()
        assert part_of_leftovers(docker_client) == []


def test_edge_reads_central_outputs_through_the_stack_reference(split):
    out = split.edge.outputs()
    assert out["central_stack"] == "organization/agentstream/central-e2e"
    central_rw = split.central.outputs()["remote_write_url"]
    assert central_rw == "http://central-router:19291/api/v1/receive"
    # The agents' config names central's router URL, read from central's state.
    config = split.docker.containers.get("gotham-agent-0").exec_run(["cat", "/etc/prometheus/prometheus.yml"])
    assert central_rw in config.output.decode()


def test_remote_write_secret_is_ciphertext_in_state_and_only_in_a_file(split):
    """The edge's remote-write token: ciphertext in the stack file and in
    `pulumi stack export`, in the state for real (`--show-secrets`), and in
    the agents only as the credentials file prometheus.yml names."""
    import json

    assert TOKEN not in split.edge.config_path.read_text()
    assert TOKEN not in json.dumps(split.edge.export())
    assert TOKEN in json.dumps(split.edge.export(show_secrets=True)), "control: the token is in the state"
    for agent in split.agents:
        c = split.docker.containers.get(agent)
        attrs = split.docker.api.inspect_container(c.id)
        assert TOKEN not in " ".join([*attrs["Args"], *(attrs["Config"].get("Env") or [])])
        config = c.exec_run(["cat", "/etc/prometheus/prometheus.yml"]).output.decode()
        assert TOKEN not in config and "credentials_file:" in config
        path = next(line.split(":", 1)[1].strip() for line in config.splitlines() if "credentials_file:" in line)
        assert c.exec_run(["cat", path]).output.decode().strip() == TOKEN


def test_router_tier_writes_reach_the_ingesters(split):
    # Routers run in RouterOnly mode, ingesters in IngestorOnly mode.
    assert b"mode=RouterOnly" in split.docker.containers.get("central-router-0").logs()
    assert b"mode=IngestorOnly" in split.docker.containers.get("central-receive-0").logs()

    agents = split.agents
    result = wait_for(
        'up{cluster="gotham"} from the edge stack, through the router tier, deduplicated',
        lambda: (lambda r: r if len(r) == len(agents) and all(s["value"][1] == "1" for s in r) else None)(
            split.q.query('up{cluster="gotham"}')
        ),
        timeout=180,
    )
    assert sorted(s["metric"]["instance"] for s in result) == sorted(f"{a}:9090" for a in agents)
    # RF 2 on 2 ingesters: every series on both. Each agent scrapes every
    # agent; wait until every agent's series has arrived on both ingesters.
    raw = wait_for(
        "raw series from every agent on both ingesters",
        lambda: (lambda r: r if len(r) == len(agents) * len(agents) * 2 else None)(
            split.q.query('up{cluster="gotham"}', dedup=False)
        ),
        timeout=180,
    )
    assert {s["metric"]["receive_replica"] for s in raw} == {"central-receive-0", "central-receive-1"}
    assert {s["metric"]["prometheus_replica"] for s in raw} == set(agents)


def test_write_limits_are_enforced_per_tenant(split):
    """The routers load the rendered limits file and apply it by tenant."""
    url = f"http://127.0.0.1:{REMOTE_WRITE_PORT}/api/v1/receive"
    # Not a valid write request: the size limit is judged before decoding.
    body = b"\0" * 2048
    r = requests.post(url, data=body, headers={"THANOS-TENANT": "noisy"}, timeout=10)
    assert r.status_code == 413 and "too large" in r.text, (r.status_code, r.text)
    # The same body for a tenant under the default limits passes the size
    # check and fails only at snappy decoding.
    r = requests.post(url, data=body, headers={"THANOS-TENANT": "gotham"}, timeout=10)
    assert r.status_code == 400 and "snappy" in r.text, (r.status_code, r.text)


def test_without_an_out_of_order_window_a_late_sample_is_refused(split, promtool):
    """The control for test_pipeline's late-sample test: this central sets no
    receive.outOfOrderWindow (Thanos' default, off), and the same
    10-minute-late sample is refused (409) and absent from the view, while the
    newer one of the same series is stored."""
    url = f"http://127.0.0.1:{REMOTE_WRITE_PORT}/api/v1/receive"
    series = 'agentstream_e2e_late_sample{case="no-window"}'
    now = time.time()
    first = push_samples(promtool, url, [(series, 1, now)])
    assert first.returncode == 0, first.stderr
    late = push_samples(promtool, url, [(series, 2, now - 600)])
    assert late.returncode != 0, "a late sample was accepted without an out-of-order window"
    log(f"no window: the late sample was refused: {late.stderr.strip()[-200:]}")
    counted = wait_for(
        "the newer sample to be queryable",
        lambda: split.q.query(f"count_over_time({series}[30m])", time=now + 1) or None,
        timeout=60,
    )
    assert [s["value"][1] for s in counted] == ["1"], counted


def cgroup_limits(container) -> tuple[int, float]:
    """(memory limit in bytes, CPUs) as the kernel holds them for the
    container: its cgroup files, v2 or v1, read from inside it."""
    def read(*paths):
        for path in paths:
            out = container.exec_run(["cat", path])
            if out.exit_code == 0:
                return out.output.decode().split()
        raise AssertionError(f"none of {paths} in {container.name}")

    memory = read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")[0]
    cpu = read("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    if len(cpu) == 1:  # v1: the quota here, the period beside it
        cpu += read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    return int(memory), int(cpu[0]) / int(cpu[1])


def test_overridden_resources_are_what_docker_and_the_kernel_enforce(split):
    """receive.resources.query overrides the defaults (1 CPU, 1Gi, 128Mi
    requested): the container's HostConfig and its cgroup hold the
    overrides; the routers, not overridden, keep the defaults (the control)."""
    query = split.docker.containers.get("central-query-0")
    host = split.docker.api.inspect_container(query.id)["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["MemoryReservation"]) == (768 * 2**20, 1_500_000_000, 96 * 2**20)
    assert cgroup_limits(query) == (768 * 2**20, 1.5)
    router = split.docker.containers.get("central-router-0")
    assert cgroup_limits(router) == (2**30, 1.0)
    log(f"overridden resources: central-query-0 {cgroup_limits(query)}, central-router-0 {cgroup_limits(router)}")


def test_query_frontend_answers_range_queries_as_query_does(split):
    """query_url is the Query Frontend: a range query over the last hour
    through it (split into 5m pieces, retried, cached) returns exactly what
    Query returns directly, and its metrics show the split."""
    fe, direct = Query(split.central_outputs["query_url"]), Query(split.central_outputs["query_direct_url"])
    assert fe.url != direct.url
    step = 15

    def window():
        # Settled data only (the last seconds still arrive), aligned to the
        # step as the frontend aligns it; ready once Query has both agents'
        # targets inside it (a young stack has none 30 s ago).
        end = (int(time.time()) - 30) // step * step
        return (end - 3600, end) if len(direct.query_range('up{cluster="gotham"}', end - 3600, end, step)) == 2 else None

    start, end = wait_for("a settled hour-long window with the edge's samples", window, timeout=180)

    def normal(result):
        return sorted((tuple(sorted(s["metric"].items())), tuple(tuple(v) for v in s["values"])) for s in result)

    for selector in ('up{cluster="gotham"}', 'sum by (instance) (go_goroutines{cluster="gotham"})'):
        through_frontend = fe.query_range(selector, start, end, step)
        assert through_frontend, selector
        assert normal(through_frontend) == normal(direct.query_range(selector, start, end, step)), selector
        # Asked again: answered from the results cache, still the same.
        assert normal(fe.query_range(selector, start, end, step)) == normal(through_frontend)
    metrics = requests.get(f"{fe.url}/metrics", timeout=10).text
    split_lines = [line for line in metrics.splitlines() if "split_queries_total" in line and not line.startswith("#")]
    assert split_lines and max(float(line.rsplit(" ", 1)[1]) for line in split_lines) >= 12, split_lines


def test_filesystem_bucket_is_shared_by_receive_and_store(split):
    blocks = wait_for(
        "an ingester to upload a block to the shared FILESYSTEM bucket",
        lambda: bucket_blocks(split.docker),
        timeout=480,
        interval=15,
    )
    # The edge fleet's tenant and central's self-monitoring agent's ("meta").
    assert {b["thanos"]["labels"]["tenant_id"] for b in blocks} <= {"gotham", "default-tenant", "meta"}
    start = min(b["minTime"] for b in blocks) / 1000
    end = max(b["maxTime"] for b in blocks) / 1000
    for i in range(2):
        split.docker.containers.get(f"central-receive-{i}").stop(timeout=20)
    result = wait_for(
        "store gateway to serve the FILESYSTEM bucket",
        lambda: split.q.query_range('up{cluster="gotham"}', start, end),
        timeout=180,
    )
    assert {s["metric"]["cluster"] for s in result} == {"gotham"}
    # Back up, so the agents' shutdown flush at teardown finds receive (a
    # stopped ingester makes each agent wait out Prometheus' 1 min flush deadline).
    for i in range(2):
        split.docker.containers.get(f"central-receive-{i}").start()
