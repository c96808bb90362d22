"""One agent whose WAL volume comes from a StorageClass of pre-made `local`
volumes owned by root with mode 0755 (as many CSI drivers hand them out):
the non-root agent can write only because the pod's fsGroup makes the kubelet
hand the volume to its group (tests/k8s/test_storage.py)."""

import pulumi

import agentstream as a

config = pulumi.Config("strict")
# The namespace is the test's (it ran the control pod there first).
target = a.KubernetesTarget(
    "k8s",
    {"namespace": config.require("namespace"), "create_namespace": False, "storage_class": config.require("storageClass")},
)
fleet = a.AgentFleet(
    "strict",
    # Nothing listens there: the agent keeps its WAL and retries, which is all this needs.
    {"agents": 1, "remote_write_url": "http://127.0.0.1:9/api/v1/write", "wal_size": "1Gi", "kubernetes_sd": False, "target": target},
)
pulumi.export("agents", fleet.agents)
