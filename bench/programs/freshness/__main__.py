"""P2's pipeline, built from the components' Python API as a user's own stack
would be: a receive cluster (optionally with SeaweedFS, Store and Compact, as
the dev stack) and one fleet per scrape interval, on the Docker network
``agentstream-bench`` with names of its own (``bench-*``, ``benchobj-*``) and
Query published on 127.0.0.1:<bench:queryPort>, so it runs beside the dev
stack. Driven by ``bench:*`` config (bench/bench_freshness.py writes it)."""

import pulumi

import agentstream as a

config = pulumi.Config("bench")
target = a.DockerTarget(
    "docker", {"network": config.get("network") or "agentstream-bench", "publish_address": "127.0.0.1"}
)
receive_args = {
    "replicas": config.get_int("receivers") or 3,
    "replication_factor": config.get_int("replicationFactor") or 3,
    "query_port": config.get_int("queryPort") or 30902,
    "publish_remote_write": False,
    "target": target,
}
if config.get_bool("objectStore"):
    receive_args["object_store"] = a.ObjectStore(
        "benchobj", {"engine": "seaweedfs", "bucket": "thanos", "target": target}
    )
receive = a.ReceiveCluster("bench", receive_args)
fleets = {}
for interval in config.get_object("scrapeIntervals") or ["5s", "15s"]:
    fleet = a.AgentFleet(
        f"bench-{interval}",
        {"agents": config.get_int("agents") or 2, "scrape_interval": interval, "target": target, "receive": receive},
    )
    fleets[interval] = fleet.agents
pulumi.export("query_url", receive.query_url)
pulumi.export("fleets", fleets)
