"""agentstream: a forward-only metrics pipeline as Pulumi components.

Prometheus agents (AgentFleet) stream to Thanos Receive (ReceiveCluster),
which uploads blocks to a bucket (ObjectStore); Thanos Query gives the global
view. Each component describes *what* runs; a target (DockerTarget or
KubernetesTarget) decides *how*.
"""

from . import versions
from .agent_fleet import AgentFleet, AgentFleetArgs, QueueConfig, RemoteWriteAuth
from .object_store import ObjectStore, ObjectStoreArgs
from .receive_cluster import ReceiveCluster, ReceiveClusterArgs, ReceiveLimits, RequestLimits, write_quorum
from .targets import DockerTarget, DockerTargetArgs, KubernetesTarget, KubernetesTargetArgs, Target
from .targets.kubernetes import IngressArgs

__all__ = [
    "AgentFleet",
    "AgentFleetArgs",
    "DockerTarget",
    "DockerTargetArgs",
    "IngressArgs",
    "KubernetesTarget",
    "KubernetesTargetArgs",
    "ObjectStore",
    "ObjectStoreArgs",
    "QueueConfig",
    "ReceiveCluster",
    "ReceiveClusterArgs",
    "ReceiveLimits",
    "RemoteWriteAuth",
    "RequestLimits",
    "Target",
    "versions",
    "write_quorum",
]
