"""The other shapes, for real: a router tier in front of ingest-only receivers
(as the k8s stack runs it), hashmod, the FILESYSTEM object store, and
per-tenant write limits on the routers.

A smaller topology than the dev stack, on the same harness, so it stays
quick: 2 routers, 2 ingesters at RF 2, one fleet of 2 agents.
"""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import LOCAL_IMAGES
from tests.e2e.harness import log, materialize
from tests.e2e.test_pipeline import QUERY_PORT, REMOTE_WRITE_PORT, Pipeline, _bucket_blocks, wait_for
from tests.support.stack_runner import run_stack

pytestmark = pytest.mark.e2e


def variant_config() -> dict:
    return {
        "agentstream:target": "docker",
        "agentstream:docker": {"network": "agentstream-e2e-variant"},
        "agentstream:objectStore": {"engine": "filesystem"},
        "agentstream:receive": {
            "replicas": 2,
            "replicationFactor": 2,
            "routerReplicas": 2,
            "hashringAlgorithm": "hashmod",
            "blockDuration": "1m",
            "bucketSyncInterval": "15s",
            "queryPort": QUERY_PORT,
            "remoteWritePort": REMOTE_WRITE_PORT,
            # gotham's batches fit the default; "noisy" gets a tiny body limit.
            "limits": {"request": {"samples_limit": 20000}, "tenants": {"noisy": {"size_bytes_limit": 1024}}},
        },
        "agentstream:fleets": [{"name": "gotham", "agents": 2, "scrapeInterval": "5s"}],
        "agentstream:images": {k: v for k, v in LOCAL_IMAGES.items() if k != "seaweedfs"},
    }


@pytest.fixture(scope="module")
def variant(docker_client):
    log("variant: routers + ingesters, hashmod, FILESYSTEM bucket")
    run = run_stack("dev", config=variant_config())
    dep = materialize(run, docker_client)
    try:
        yield Pipeline(run, dep)
    finally:
        dep.destroy()
        assert dep.leftovers() == []


def test_router_tier_writes_reach_the_ingesters(variant, docker_client):
    # Agents write to the routers, not to the ingesters.
    agent = next(r for r in variant.run.resources if r.name == "gotham-agent-0")
    config = next(u["content"] for u in agent.inputs["uploads"] if u["file"].endswith("prometheus.yml"))
    assert "http://central-router:19291/api/v1/receive" in config
    # Routers run in RouterOnly mode, ingesters in IngestorOnly mode.
    assert b"mode=RouterOnly" in docker_client.containers.get("central-router-0").logs()
    assert b"mode=IngestorOnly" in docker_client.containers.get("central-receive-0").logs()

    agents = variant.fleets["gotham"]
    result = wait_for(
        'up{cluster="gotham"} through the router tier, deduplicated',
        lambda: (lambda r: r if len(r) == len(agents) else None)(variant.query('up{cluster="gotham"}')),
        timeout=180,
    )
    assert sorted(s["metric"]["instance"] for s in result) == sorted(f"{a}:9090" for a in agents)
    # RF 2 on 2 ingesters: every series on both.
    # Each agent scrapes every agent; wait until every agent's series has
    # arrived on both ingesters, since agents start a few seconds apart.
    raw = wait_for(
        "raw series from every agent on both ingesters",
        lambda: (lambda r: r if len(r) == len(agents) * len(agents) * 2 else None)(
            variant.query('up{cluster="gotham"}', dedup=False)
        ),
        timeout=180,
    )
    assert {s["metric"]["receive_replica"] for s in raw} == {"central-receive-0", "central-receive-1"}
    assert {s["metric"]["prometheus_replica"] for s in raw} == set(agents)


def test_write_limits_are_enforced_per_tenant(variant):
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


def test_filesystem_bucket_is_shared_by_receive_and_store(variant, docker_client):
    blocks = wait_for(
        "an ingester to upload a block to the shared FILESYSTEM bucket",
        lambda: _bucket_blocks(docker_client),
        timeout=480,
        interval=15,
    )
    assert {b["thanos"]["labels"]["tenant_id"] for b in blocks} <= {"gotham", "default-tenant"}
    start = min(b["minTime"] for b in blocks) / 1000
    end = max(b["maxTime"] for b in blocks) / 1000
    for i in range(2):
        docker_client.containers.get(f"central-receive-{i}").stop(timeout=20)
    result = wait_for(
        "store gateway to serve the FILESYSTEM bucket",
        lambda: variant.query_range('up{cluster="gotham"}', start, end),
        timeout=180,
    )
    assert {s["metric"]["cluster"] for s in result} == {"gotham"}
