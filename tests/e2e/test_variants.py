"""The other shapes, for real: a router tier in front of ingest-only receivers
(as the k8s stack runs it), hashmod, and the FILESYSTEM object store.

A smaller topology than the dev stack, on the same harness, so it stays
quick: 2 routers, 2 ingesters at RF 2, one fleet of 2 agents.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import LOCAL_IMAGES
from tests.e2e.harness import log, materialize
from tests.e2e.test_pipeline import Pipeline, _bucket_blocks, wait_for
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
    raw = wait_for(
        "raw series on both ingesters",
        lambda: (lambda r: r if {s["metric"]["receive_replica"] for s in r} == {"central-receive-0", "central-receive-1"} else None)(
            variant.query('up{cluster="gotham"}', dedup=False)
        ),
        timeout=120,
    )
    assert len(raw) == len(agents) * len(agents) * 2


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
