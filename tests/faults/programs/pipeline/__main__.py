"""The fault suite's pipeline, built from the Python API (tests/faults).

Everything is named ``<prefix>-*`` (``faults`` by default) on its own network
(``agentstream-faults``), with host ports of its own (21902, 21912), so it never
collides with the dev stack or another suite on the same engine:

* ``faults-objstore-seaweedfs-0``: the bucket;
* ``faults-receive-{0,1,2}`` at RF 3 with 1m blocks and a 30m out-of-order window, ``faults-query-0``
  (published on 127.0.0.1:21902), ``faults-store-0``, ``faults-compact-0``;
* fleets ``faults-a`` and ``faults-b``, two agents each, 5s scrapes;
* the control: ``faults-rf1-receive-{0,1}`` at RF 1 (no bucket), its own
  ``faults-rf1-query-0`` (127.0.0.1:21912) and fleet ``faults-c`` (one agent).
"""

import pulumi

import agentstream as a

config = pulumi.Config("faults")
prefix = config.get("prefix") or "faults"
network = config.get("network") or "agentstream-faults"
scrape_interval = config.get("scrapeInterval") or "5s"
query_port = config.get_int("queryPort") or 21902
control_query_port = config.get_int("controlQueryPort") or 21912

target = a.DockerTarget(f"{prefix}-docker", {"network": network})
store = a.ObjectStore(f"{prefix}-objstore", {"engine": "seaweedfs", "storage_size": "1Gi", "target": target})
ring = a.ReceiveCluster(
    prefix,
    {
        "replicas": 3,
        "replication_factor": 3,
        # Short blocks, so receive cuts (and uploads) one every minute and
        # the compactor has work within minutes (2h in production).
        "block_duration": "1m",
        # An agent's backlog after an outage is older than half a block
        # (30s here): without a window receive refuses it (409, never
        # retried). 30m covers the 10-minute R2 run.
        "out_of_order_window": "30m",
        # The compactor takes blocks a minute old (30m by default), so R6
        # finds work within the suite's minutes.
        "compact_consistency_delay": "1m",
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
    name: a.AgentFleet(
        name, {"agents": 2, "scrape_interval": scrape_interval, "wal_size": "1Gi", "target": target, "receive": ring}
    )
    for name in (f"{prefix}-a", f"{prefix}-b")
}

# The control: the same pipeline at RF 1, where losing a receiver loses data.
control = a.ReceiveCluster(
    f"{prefix}-rf1",
    {
        "replicas": 2,
        "replication_factor": 1,
        "query_port": control_query_port,
        "publish_remote_write": False,
        "storage_size": "1Gi",
        "target": target,
    },
)
control_fleet = a.AgentFleet(
    f"{prefix}-c", {"agents": 1, "scrape_interval": scrape_interval, "wal_size": "1Gi", "target": target, "receive": control}
)

pulumi.export("query_url", ring.query_url)
pulumi.export("control_query_url", control.query_url)
pulumi.export("hashring", ring.hashring)
pulumi.export("fleets", {name: f.agents for name, f in fleets.items()})
pulumi.export("control_fleets", {f"{prefix}-c": control_fleet.agents})
