"""agentstream: a forward-only metrics pipeline as Pulumi components.

Prometheus agents (AgentFleet) stream to Thanos Receive (ReceiveCluster),
which uploads blocks to a bucket (ObjectStore); Thanos Query gives the global
view. Each component describes *what* runs; a target (DockerTarget or
KubernetesTarget) decides *how*.
"""

from . import versions
from .agent_fleet import AgentFleet, AgentFleetArgs
from .object_store import ObjectStore, ObjectStoreArgs
from .receive_cluster import ReceiveCluster, ReceiveClusterArgs, write_quorum
from .targets import DockerTarget, DockerTargetArgs, KubernetesTarget, KubernetesTargetArgs, Target

__all__ = [
    "AgentFleet",
    "AgentFleetArgs",
    "DockerTarget",
    "DockerTargetArgs",
    "KubernetesTarget",
    "KubernetesTargetArgs",
    "ObjectStore",
    "ObjectStoreArgs",
    "ReceiveCluster",
    "ReceiveClusterArgs",
    "Target",
    "versions",
    "write_quorum",
]
