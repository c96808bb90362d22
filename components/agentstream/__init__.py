"""agentstream: a forward-only metrics pipeline as Pulumi components.

Prometheus agents (AgentFleet) stream to Thanos Receive (ReceiveCluster),
which uploads blocks to a bucket (ObjectStore); Thanos Query gives the global
view. SelfMonitoring scrapes every component into a tenant of its own;
Alerting evaluates rules on the global view (Thanos Ruler) and sends alerts
to an Alertmanager. Each component describes *what* runs; a target (DockerTarget or
KubernetesTarget) decides *how*.
"""

from . import versions
from .agent_fleet import AgentFleet, AgentFleetArgs, QueueConfig, RemoteWriteAuth, ScrapeJob
from .alerting import Alerting, AlertingArgs, AlertmanagerArgs
from .object_store import ObjectStore, ObjectStoreArgs
from .receive_cluster import ReceiveCluster, ReceiveClusterArgs, ReceiveLimits, RequestLimits, write_quorum
from .self_monitoring import SelfMonitoring, SelfMonitoringArgs
from .targets import DockerTarget, DockerTargetArgs, KubernetesTarget, KubernetesTargetArgs, Target
from .targets.kubernetes import IngressArgs

__all__ = [
    "AgentFleet",
    "AgentFleetArgs",
    "Alerting",
    "AlertingArgs",
    "AlertmanagerArgs",
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
    "ScrapeJob",
    "SelfMonitoring",
    "SelfMonitoringArgs",
    "Target",
    "versions",
    "write_quorum",
]
