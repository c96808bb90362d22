"""The scaling test's pipeline (tests/e2e/test_scaling.py), built from the Python API.

Everything is named ``scale-*`` on its own network (``agentstream-scale``),
with Query on a host port in the 2xxxx range, so it never collides with the
dev stack or another suite on the same engine:

* ``scale-objstore-seaweedfs-0``: the bucket;
* ``scale-receive-{0..R-1}`` at RF 3 (R = ``scale:replicas``, default 3),
  every receiver router and ingester; ``scale-query-0`` (127.0.0.1:23902),
  ``scale-store-0``, ``scale-compact-0``;
* fleets ``scale-a`` and ``scale-b``, one agent each, 5s scrapes;
* ``scale-meta-agent-0``: self-monitoring of the receive cluster (tenant
  ``scale-meta``), whose receiver targets follow the ring without a restart.
"""

import pulumi

import agentstream as a

config = pulumi.Config("scale")
prefix = config.get("prefix") or "scale"
network = config.get("network") or "agentstream-scale"
replicas = config.get_int("replicas") or 3
query_port = config.get_int("queryPort") or 23902

target = a.DockerTarget(f"{prefix}-docker", {"network": network})
store = a.ObjectStore(f"{prefix}-objstore", {"engine": "seaweedfs", "storage_size": "1Gi", "target": target})
ring = a.ReceiveCluster(
    prefix,
    {
        "replicas": replicas,
        "replication_factor": 3,
        # Store sees a block a receiver uploads (its head, flushed when it
        # is removed) within 15s (3m by default).
        "bucket_sync_interval": "15s",
        "query_port": query_port,
        # Nothing outside the network writes: no host port to collide with.
        "publish_remote_write": False,
        "storage_size": "1Gi",
        "target": target,
        "object_store": store,
    },
)
fleets = {
    name: a.AgentFleet(name, {"agents": 1, "scrape_interval": "5s", "wal_size": "1Gi", "target": target, "receive": ring})
    for name in (f"{prefix}-a", f"{prefix}-b")
}

# Watches the receive cluster only (not the fleets' agents, whose `up` the
# test counts per target).
meta = a.SelfMonitoring(
    f"{prefix}-meta", {"scrape_interval": "5s", "wal_size": "1Gi", "target": target, "receive": ring}
)

pulumi.export("query_url", ring.query_url)
pulumi.export("meta_jobs", meta.jobs)
pulumi.export("hashring", ring.hashring)
pulumi.export("fleets", {name: f.agents for name, f in fleets.items()})
