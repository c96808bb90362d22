"""A topology built from the Python API, as a user's own stack would: MinIO
instead of SeaweedFS, hashmod at RF 2 with ingest-only receivers behind
routers, two fleets, one of them with a tenant and external labels of its own.
The Kubernetes tiers deploy it with the real engine (tests/k8s)."""

import pulumi

import agentstream as a

config = pulumi.Config("topology")
namespace = config.get("namespace") or "topology"

target = a.KubernetesTarget("k8s", {"namespace": namespace, "create_namespace": True})
store = a.ObjectStore("objects", {"engine": "minio", "bucket": "metrics", "storage_size": "1Gi", "target": target})
receive = a.ReceiveCluster(
    "ring",
    {
        "replicas": 2,
        "replication_factor": 2,
        "router_replicas": 2,
        "hashring_algorithm": "hashmod",
        "storage_size": "1Gi",
        "target": target,
        "object_store": store,
    },
)
gotham = a.AgentFleet("gotham", {"agents": 2, "scrape_interval": "15s", "target": target, "receive": receive})
bludhaven = a.AgentFleet(
    "bludhaven",
    {"agents": 1, "tenant": "nightwing", "external_labels": {"region": "east"}, "target": target, "receive": receive},
)
pulumi.export("query_url", receive.query_url)
pulumi.export("remote_write_url", receive.remote_write_url)
pulumi.export("agents", {"gotham": gotham.agents, "bludhaven": bludhaven.agents})
