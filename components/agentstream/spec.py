"""The neutral description of what runs.

Components build :class:`Workload` objects; targets (``targets/docker.py``,
``targets/kubernetes.py``) turn them into provider resources. Nothing in this
module knows about Docker or Kubernetes, so the same description drives both.

Per-instance identity. A workload with ``replicas > 1`` runs instances named
``<workload>-0``, ``<workload>-1``, ... on every target (a Kubernetes
StatefulSet names its pods the same way). Each instance sees its own name in
the environment variable ``INSTANCE`` and may refer to it in args as
``$(INSTANCE)`` (Kubernetes expands this natively; the Docker target
substitutes it when it renders each container). Config files can use
``${INSTANCE}``, which Prometheus expands in ``external_labels``. That is what
lets every instance share one byte-identical config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

import pulumi

INSTANCE_ENV = "INSTANCE"
INSTANCE_ARG = f"$({INSTANCE_ENV})"

# Content can be known now (a str) or later (an Output, e.g. a secret).
Content = Union[str, pulumi.Output[str]]


def instance_names(workload_name: str, replicas: int) -> list[str]:
    """The one naming rule for instances, shared by every target and component."""
    return [f"{workload_name}-{i}" for i in range(replicas)]


@dataclass
class Port:
    """A port the workload listens on.

    ``publish`` asks the target to expose it to people or remote edges
    (Docker: bound on the host; Kubernetes: on the ClusterIP Service).
    ``ingress_path`` marks a published HTTP port that parties outside the
    cluster may reach under that path prefix, when the target has an ingress
    (Kubernetes). Ports without it never leave the cluster.
    """

    name: str
    port: int
    publish: bool = False
    host_port: Optional[int] = None
    ingress_path: Optional[str] = None


@dataclass
class ConfigFile:
    """A file placed inside the container at ``path``.

    ``secret`` files become Kubernetes Secrets (ConfigMaps otherwise); on
    Docker both are uploaded, and Pulumi keeps the secret content encrypted
    in state.

    ``live`` marks a file the process re-reads while it runs (Thanos
    Receive's hashring). A changed file rolls the instances that read it;
    a live file instead reaches the running instances in place and is left
    out of what rolls them, so changing it restarts nothing. A target
    delivers every live file of a workload as one directory (so all of a
    workload's live files share their directory, which holds nothing else)
    and only after every instance of the workload is up and healthy, so a
    ring never names an instance before it is ready (Docker: a named
    volume written by one-shot writers; Kubernetes: a ConfigMap of its own,
    mounted as a directory, which the kubelet updates in place).
    ``reload_seconds`` is how long a running process may take to notice a
    change (its re-read interval); the Docker writer waits that long, so
    the change has reached every instance before ``pulumi up`` goes on
    (before, say, the receivers a smaller ring no longer names are removed).
    Live files cannot be secret.
    """

    path: str
    content: Content
    secret: bool = False
    live: bool = False
    reload_seconds: int = 0

    def __post_init__(self) -> None:
        if self.live and self.secret:
            raise ValueError(f"{self.path}: a live file cannot be secret")
        if self.reload_seconds < 0:
            raise ValueError(f"{self.path}: reload_seconds must be 0 or more, not {self.reload_seconds}")


def live_directory(files: list[ConfigFile]) -> Optional[str]:
    """The one directory that holds every live file of a workload (None: no live file).

    Raises ``ValueError`` when they are spread over several directories,
    or when a file that is not live sits in it."""
    live = [f for f in files if f.live]
    if not live:
        return None
    dirs = {f.path.rsplit("/", 1)[0] if "/" in f.path else "" for f in live}
    if len(dirs) != 1 or "" in dirs:
        raise ValueError(f"live files must share one directory: {sorted(f.path for f in live)}")
    directory = dirs.pop()
    inside = [f.path for f in files if not f.live and f.path.startswith(directory + "/")]
    if inside:
        raise ValueError(f"{directory} holds live files, so it cannot also hold {inside}")
    return directory


@dataclass
class Volume:
    """Persistent storage mounted at ``mount_path``.

    ``shared_name`` names a volume that several workloads mount (the Docker
    ``filesystem`` object store); otherwise each instance gets its own.
    """

    name: str
    mount_path: str
    size: str = "10Gi"
    shared_name: Optional[str] = None


@dataclass
class HealthCheck:
    """HTTP health endpoints on ``port``: readiness and liveness paths."""

    port: int
    ready_path: str = "/-/ready"
    live_path: str = "/-/healthy"
    # Seconds: how long a fresh start may take before liveness counts.
    start_period: int = 30
    # The HTTP client the image ships, for targets that probe from inside
    # the container (Docker): busybox-based images have wget, MinIO's has curl.
    http_client: str = "wget"


@dataclass(frozen=True)
class Resources:
    """Requests and limits as Kubernetes quantities. Kubernetes sets them on
    the container; Docker turns them into memory/cpus limits, a memory
    reservation and CPU shares."""

    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"


@dataclass
class Scheduling:
    """Where instances may run: Kubernetes only (a Docker host has no nodes).

    The fields are raw Kubernetes objects, as in a pod spec (camelCase
    inside). ``topology_spread_constraints`` None means the default: a soft
    spread across zones when ``spread_zones`` (harmless without zones), no
    constraint otherwise; an empty list means none at all.
    """

    node_selector: Optional[dict[str, str]] = None
    tolerations: Optional[list[dict[str, Any]]] = None
    affinity: Optional[dict[str, Any]] = None
    topology_spread_constraints: Optional[list[dict[str, Any]]] = None
    priority_class_name: Optional[str] = None
    spread_zones: bool = False


@dataclass
class Workload:
    """One kind of process, with ``replicas`` identical instances."""

    name: str                     # e.g. "dev-receive"; instance names derive from it
    component: str                # app.kubernetes.io/component, e.g. "receive"
    image: str
    args: list[str]
    ports: list[Port]
    health: HealthCheck
    replicas: int = 1
    command: Optional[list[str]] = None   # overrides the image entrypoint
    config_files: list[ConfigFile] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    user: str = "65534"           # nobody, as in the upstream images
    resources: Resources = field(default_factory=Resources)
    scheduling: Scheduling = field(default_factory=Scheduling)
    # StorageClass of the workload's volumes (Kubernetes); None: the target's.
    # "" is Kubernetes' own "no class" (pre-provisioned volumes only).
    storage_class: Optional[str] = None
    # Seconds between SIGTERM and SIGKILL when an instance stops (Docker:
    # destroy grace; Kubernetes: terminationGracePeriodSeconds). None: 120
    # for workloads with data (receive flushes and uploads its head on
    # SIGTERM, an agent closes its WAL), 30 otherwise.
    stop_grace_seconds: Optional[int] = None
    # Kubernetes PodDisruptionBudget; None for no budget.
    max_unavailable: Optional[int] = None
    # Kubernetes only: the agent needs to list pods/services for discovery.
    needs_kubernetes_discovery: bool = False
    part_of: str = "agentstream"

    def instance_names(self) -> list[str]:
        return instance_names(self.name, self.replicas)

    @property
    def stateful(self) -> bool:
        """Instances keep an identity (a volume, or ``$(INSTANCE)`` in args):
        a Kubernetes StatefulSet, whose pods have DNS names of their own;
        otherwise a Deployment, reached only through its Service."""
        return bool(self.volumes) or any(INSTANCE_ARG in a for a in self.args)

    @property
    def stop_grace(self) -> int:
        if self.stop_grace_seconds is not None:
            return self.stop_grace_seconds
        return 120 if self.volumes else 30
