"""AgentFleet: Prometheus v3 in agent mode at the edge.

Each agent scrapes the fleet's agents and the given static targets (and, on
Kubernetes, annotated pods and services), keeps a WAL on a volume, and
remote-writes with Remote Write 1.0 and an explicit queue config. Agents of a
fleet share one config file; each gets its unique replica label from its
instance name (``${INSTANCE}``), which Prometheus expands in external labels.
"""

# No postponed annotations: see object_store.py.
import re
from collections.abc import Mapping
from typing import Any, Optional, TypedDict

import pulumi
from typing_extensions import Required

from . import versions
from .config import agent_args, render_agent_config
from .config.prometheus import AGENT_CONFIG_FILE, AGENT_PORT, AGENT_WAL_DIR, DEFAULT_QUEUE_CONFIG, scrape_job_files
from .receive_cluster import DEFAULT_TENANT_HEADER, ReceiveCluster, request_limits_for
from .settings import (
    FleetSettings,
    ReceiveSettings,
    RemoteWriteAuthSettings,
    ScrapeJobSettings,
    frozen_map,
    thaw,
)
from .sizing import ResourcesArgs, SchedulingArgs, scheduling, validate_resources, validate_scheduling, validate_storage_class
from .spec import ConfigFile, HealthCheck, Port, Resources, Volume, Workload, instance_names
from .targets import Target, split_args
from .validation import (
    checked,
    check_args,
    check_bool,
    check_choice,
    check_duration,
    check_host_port,
    check_http_url,
    check_image,
    check_int,
    check_keys,
    check_label_name,
    check_labels,
    check_list,
    check_name,
    check_size,
    check_tenant,
    pop_dependency,
)

# -- args and defaults --------------------------------------------------------
DEFAULT_AGENTS = 1
DEFAULT_SCRAPE_INTERVAL = "15s"
DEFAULT_REPLICA_LABEL = "prometheus_replica"
DEFAULT_CLUSTER_LABEL = "cluster"
# The WAL keeps data the remote end has not acknowledged, up to this age.
# Four hours matches upstream and rides out a long receive outage.
DEFAULT_WAL_RETENTION = "4h"
# How long a running agent may take to read a changed targets file: on
# change (inotify) at once, else at its 30s refresh.
JOB_FILES_RELOAD_SECONDS = 35
DEFAULT_WAL_SIZE = "5Gi"
AUTH_TYPES = ("bearer", "basic")
# The token or password, mounted from a Secret (Kubernetes) or uploaded as a
# secret (Docker); prometheus.yml only names this path.
REMOTE_WRITE_SECRET_FILE = "/etc/prometheus/secrets/remote-write"
PROMETHEUS_UID = "65534"  # nobody, as in the upstream image
# Each agent's requests and limits; fleets[].resources overrides them key by key.
DEFAULT_RESOURCES = Resources(cpu_request="100m", memory_request="256Mi", cpu_limit="1", memory_limit="1Gi")


class QueueConfig(TypedDict, total=False):
    """Prometheus' remote-write ``queue_config``; unset keys keep the defaults
    (``config.prometheus.DEFAULT_QUEUE_CONFIG``, else Prometheus' own)."""

    capacity: int
    """Samples buffered per shard (default 10000)."""
    min_shards: int
    """Shards at start (default 1)."""
    max_shards: int
    """Most shards sending at once (default 10)."""
    max_samples_per_send: int
    """Samples per request (default 2000); must fit receive's request limits."""
    batch_send_deadline: str
    """Longest a sample waits for a full batch (default ``5s``)."""
    min_backoff: str
    """First retry delay (default ``30ms``)."""
    max_backoff: str
    """Longest retry delay (default ``5s``)."""
    retry_on_http_429: bool
    """Retry on 429 Too Many Requests (Prometheus' default: true)."""
    sample_age_limit: str
    """Drop samples older than this instead of sending them (Prometheus' default ``0s``: never)."""


QUEUE_CONFIG_KEYS = tuple(QueueConfig.__annotations__)


class ScrapeJob(TypedDict, total=False):
    """A named scrape job of ``host:port`` targets."""

    name: Required[str]
    """The ``job`` label (unique in the fleet)."""
    targets: Required[list[str]]
    """``host:port`` of each target."""
    metrics_path: str
    """Path of the metrics endpoint (default ``/metrics``)."""


class RemoteWriteAuth(TypedDict, total=False):
    """Credentials the agents present to the remote-write endpoint
    (an ingress or proxy in front of Receive, which has no auth of its own)."""

    type: str
    """``bearer`` (Authorization: Bearer <secret>) or ``basic`` (HTTP basic auth)."""
    username: str
    """``basic`` only: the user name."""
    secret: pulumi.Input[str]
    """The token or password; pass a Pulumi secret."""


class AgentFleetArgs(TypedDict, total=False):
    agents: int
    """Agent instances (default 1). Agents of a fleet scrape the same targets (HA)."""
    cluster: str
    """Value of the ``cluster`` external label (default: the fleet name)."""
    external_labels: dict[str, str]
    """Extra external labels for every agent."""
    replica_label: str
    """Label that tells agents apart; Query deduplicates on it (default ``prometheus_replica``)."""
    scrape_interval: str
    """Global scrape interval (default ``15s``)."""
    static_targets: list[str]
    """Extra ``host:port`` targets to scrape (job ``static``)."""
    scrape_jobs: list[ScrapeJob]
    """Extra named jobs, each ``{name, targets, metrics_path}`` (default: none)."""
    kubernetes_sd: bool
    """Scrape annotated pods/services (default: True on Kubernetes, impossible on Docker)."""
    remote_write_url: pulumi.Input[str]
    """Where to write when no ReceiveCluster is given."""
    tenant: str
    """Tenant sent in the tenant header (default: the fleet name)."""
    tenant_header: pulumi.Input[str]
    """Tenant header name (default: the ReceiveCluster's, else ``THANOS-TENANT``)."""
    queue_config: QueueConfig
    """Remote-write ``queue_config`` (default: ``config.prometheus.DEFAULT_QUEUE_CONFIG``)."""
    wal_retention: str
    """``--storage.agent.retention.max-time`` (default ``4h``)."""
    wal_size: str
    """WAL volume size (default ``5Gi``)."""
    remote_write_auth: RemoteWriteAuth
    """Credentials for remote write (default: none)."""
    resources: ResourcesArgs
    """Requests and limits per agent (default requests 100m/256Mi, limits 1/1Gi)."""
    scheduling: SchedulingArgs
    """Kubernetes only: where the agents may run (default: anywhere)."""
    storage_class: str
    """Kubernetes only: StorageClass of the WAL volumes (default: the target's)."""
    image: str
    """Prometheus image (default pinned in ``versions.py``)."""
    target: Required[Target]
    """Where it runs: a ``DockerTarget`` or ``KubernetesTarget`` (required)."""
    receive: ReceiveCluster
    """The ReceiveCluster to write to (default: none; then ``remote_write_url`` is required)."""


def validate_fleet_args(
    name: str,
    args: Mapping[str, Any],
    receive: Optional[ReceiveSettings],
    target_kind: str,
    path: Optional[str] = None,
) -> FleetSettings:
    """Merge defaults into the settings (args without ``target``, ``receive``) and validate;
    ``receive`` is the ReceiveCluster's validated settings. Errors name keys
    under ``path`` (default ``fleets[<name>]``, as a stack's fleets list)."""
    p = path or f"fleets[{name}]"
    a = check_args("AgentFleetArgs", args, AgentFleetArgs.__annotations__)
    check_name("fleet.name", name)
    check_int(f"{p}.agents", a.setdefault("agents", DEFAULT_AGENTS), 1, 32)
    a.setdefault("cluster", name)
    if not isinstance(a["cluster"], str) or not a["cluster"]:
        raise ValueError(f"{p}.cluster: must be a non-empty string")
    check_label_name(f"{p}.replicaLabel", a.setdefault("replica_label", DEFAULT_REPLICA_LABEL))
    extra = check_labels(f"{p}.externalLabels", a.setdefault("external_labels", {}))
    # The replica label is written last into the external labels, so one
    # named like another would silently replace it (and Query would then
    # deduplicate the cluster away).
    if a["replica_label"] == DEFAULT_CLUSTER_LABEL or a["replica_label"] in extra:
        raise ValueError(
            f"{p}.replicaLabel: {a['replica_label']!r} collides with the fleet's "
            f"{'cluster label' if a['replica_label'] == DEFAULT_CLUSTER_LABEL else 'externalLabels key'}; "
            f"allowed: a label name other than {DEFAULT_CLUSTER_LABEL!r} and the fleet's externalLabels keys"
        )
    for reserved in (DEFAULT_CLUSTER_LABEL, a["replica_label"]):
        if reserved in extra:
            raise ValueError(
                f"{p}.externalLabels.{reserved}: set by the fleet itself; allowed: other label names"
            )
    check_duration(f"{p}.scrapeInterval", a.setdefault("scrape_interval", DEFAULT_SCRAPE_INTERVAL))
    check_duration(f"{p}.walRetention", a.setdefault("wal_retention", DEFAULT_WAL_RETENTION))
    targets = check_list(f"{p}.staticTargets", a.setdefault("static_targets", []))
    for i, t in enumerate(targets):
        check_host_port(f"{p}.staticTargets[{i}]", t)
    a["scrape_jobs"] = _validate_scrape_jobs(p, a.get("scrape_jobs"))
    sd = check_bool(f"{p}.kubernetesSd", a.setdefault("kubernetes_sd", target_kind == "kubernetes"))
    if sd and target_kind != "kubernetes":
        raise ValueError(f"{p}.kubernetesSd: allowed only on the kubernetes target, not {target_kind!r}")
    a["queue_config"] = queue = _validate_queue_config(p, {} if a.get("queue_config") is None else a["queue_config"])
    if receive is None and not a.get("remote_write_url"):
        raise ValueError(f"{p}.remoteWriteUrl: required when the fleet has no ReceiveCluster")
    if a.get("remote_write_url") is not None:
        # An Output (an edge reading central's URL) is checked when it resolves.
        a["remote_write_url"] = checked(a["remote_write_url"], lambda url: check_http_url(f"{p}.remoteWriteUrl", url))
    if receive is not None:
        # An agent label equal to a receive label would be overwritten (or
        # deduplicated away) by Receive/Query: refuse it up front.
        own = {DEFAULT_CLUSTER_LABEL, a["replica_label"], *extra}
        reserved = {receive.replica_label, receive.tenant_label}
        clash = own & reserved
        if clash:
            raise ValueError(
                f"{p}.{'replicaLabel' if a['replica_label'] in clash else 'externalLabels'}: "
                f"{sorted(clash)} collides with the receive cluster's labels "
                f"{sorted(reserved)}; allowed: any other label name"
            )
        if a["replica_label"] not in receive.agent_replica_labels:
            raise ValueError(
                f"{p}.replicaLabel: {a['replica_label']!r} is not deduplicated by Query; allowed values: "
                f"{', '.join(receive.agent_replica_labels)} (or add it to receive.agentReplicaLabels)"
            )
    check_tenant(f"{p}.tenant", a.setdefault("tenant", name))
    a.setdefault("tenant_header", receive.tenant_header if receive is not None else DEFAULT_TENANT_HEADER)
    if receive is not None:
        # Receive answers a request over its limits with 413, which Prometheus
        # drops without retry: a batch must always fit, or data is lost.
        limits = request_limits_for(receive.limits, a["tenant"])
        per_send = queue["max_samples_per_send"]
        for key in ("series_limit", "samples_limit"):
            if 0 < limits[key] < per_send:
                raise ValueError(
                    f"{p}.queueConfig.max_samples_per_send: {per_send} exceeds receive.limits {key} "
                    f"({limits[key]}) for tenant {a['tenant']!r}, so full batches would be refused and dropped; "
                    f"allowed values: 1 to {limits[key]}"
                )
    check_size(f"{p}.walSize", a.setdefault("wal_size", DEFAULT_WAL_SIZE))
    a["remote_write_auth"] = _validate_auth(p, a.get("remote_write_auth"))
    a["resources"] = validate_resources(f"{p}.resources", a.get("resources"), DEFAULT_RESOURCES)
    a["scheduling"] = validate_scheduling(f"{p}.scheduling", a.get("scheduling"), target_kind)
    a["storage_class"] = validate_storage_class(f"{p}.storageClass", a.get("storage_class"), target_kind)
    check_image(f"{p}.image", a.setdefault("image", versions.PROMETHEUS_IMAGE))
    auth = a["remote_write_auth"]
    return FleetSettings(**{
        **a,
        "remote_write_url": a.get("remote_write_url"),
        "external_labels": frozen_map(a["external_labels"]),
        "static_targets": tuple(a["static_targets"]),
        "scrape_jobs": tuple(
            ScrapeJobSettings(name=j["name"], targets=tuple(j["targets"]), metrics_path=j["metrics_path"])
            for j in a["scrape_jobs"]
        ),
        "queue_config": frozen_map(a["queue_config"]),
        "remote_write_auth": RemoteWriteAuthSettings(**auth) if auth is not None else None,
        "scheduling": a["scheduling"],
    })


def job_dicts(jobs: tuple[ScrapeJobSettings, ...]) -> list[dict[str, Any]]:
    """Named jobs as the config renderers take them (plain data)."""
    return [{"name": j.name, "targets": list(j.targets), "metrics_path": j.metrics_path} for j in jobs]


def _validate_auth(p: str, auth: object) -> Optional[dict[str, Any]]:
    if auth is None:
        return None
    field = f"{p}.remoteWriteAuth"
    auth = check_keys(field, auth, ("type", "username", "secret"))
    check_choice(f"{field}.type", auth.get("type"), AUTH_TYPES)
    username = auth.get("username")
    if auth["type"] == "basic":
        if not isinstance(username, str) or not username or ":" in username:
            raise ValueError(f"{field}.username: {username!r}; allowed: a non-empty name without ':' (required for basic)")
    elif username is not None:
        raise ValueError(f"{field}.username: bearer auth has no user name; allowed: remove it, or use type basic")
    def check_secret(secret: object) -> None:
        if not isinstance(secret, str) or not secret.strip():
            raise ValueError(
                "agentstream:remoteWriteSecret: required with " + field + "; allowed: a secret token or password, "
                "set with `pulumi config set --secret agentstream:remoteWriteSecret <value>`"
            )

    out = dict(auth)
    if out.get("secret") is None:
        check_secret(None)
    # A Config.require_secret Output is checked when it resolves.
    out["secret"] = checked(out["secret"], check_secret)
    return out


SCRAPE_JOB_KEYS = ("name", "targets", "metrics_path")
# Job names the fleet's config already uses for other jobs.
_RESERVED_JOBS = ("static", "kubernetes-pods", "kubernetes-services")


def _validate_scrape_jobs(p: str, jobs: object) -> list[dict[str, Any]]:
    """Named jobs: each a mapping with a unique name, ``host:port`` targets
    and an absolute metrics path."""
    if jobs is None:
        return []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, job in enumerate(check_list(f"{p}.scrapeJobs", jobs)):
        field = f"{p}.scrapeJobs[{i}]"
        job = check_keys(field, job, SCRAPE_JOB_KEYS)
        name = job.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_.:-]+", name) or name in _RESERVED_JOBS:
            raise ValueError(
                f"{field}.name: {name!r}; allowed: a job name of letters, digits, '_', '.', ':', '-', "
                f"other than {', '.join(_RESERVED_JOBS)}"
            )
        if name in seen:
            raise ValueError(f"{field}.name: {name!r} is used by another job; allowed: a unique name")
        seen.add(name)
        targets = check_list(f"{field}.targets", job.get("targets"))
        if not targets:
            raise ValueError(f"{field}.targets: empty; allowed: a list of host:port")
        for j, t in enumerate(targets):
            check_host_port(f"{field}.targets[{j}]", t)
        path = job.get("metrics_path", "/metrics")
        if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
            raise ValueError(f"{field}.metrics_path: {path!r}; allowed: an absolute path such as /metrics")
        out.append({"name": name, "targets": list(targets), "metrics_path": path})
    return out


_QUEUE_INTS = ("capacity", "min_shards", "max_shards", "max_samples_per_send")
_QUEUE_DURATIONS = ("batch_send_deadline", "min_backoff", "max_backoff", "sample_age_limit")
# Prometheus reads a zero sample_age_limit as "no age limit" (its default).
_QUEUE_ZERO_OK = ("sample_age_limit",)


def _validate_queue_config(p: str, queue: object) -> dict[str, Any]:
    """The user's queue settings over the defaults: setting one key keeps the rest."""
    field = f"{p}.queueConfig"
    merged = {**DEFAULT_QUEUE_CONFIG, **check_keys(field, queue, QUEUE_CONFIG_KEYS)}
    ints = {key: check_int(f"{field}.{key}", merged[key], 1) for key in _QUEUE_INTS}
    for key in _QUEUE_DURATIONS:
        if key in merged:
            check_duration(f"{field}.{key}", merged[key], allow_zero=key in _QUEUE_ZERO_OK)
    if ints["min_shards"] > ints["max_shards"]:
        raise ValueError(
            f"{field}.min_shards: {ints['min_shards']} is greater than max_shards ({ints['max_shards']}); "
            f"allowed values: 1 to {ints['max_shards']}"
        )
    if "retry_on_http_429" in merged and not isinstance(merged["retry_on_http_429"], bool):
        raise ValueError(f"{field}.retry_on_http_429: {merged['retry_on_http_429']!r}; allowed values: true, false")
    return merged


# -- the component --------------------------------------------------------------
class AgentFleet(pulumi.ComponentResource):
    """Prometheus agents at the edge, remote-writing to a ReceiveCluster or a URL.

    Outputs: ``agents`` (instance names), ``remote_write_url``, ``cluster``.
    """

    agents: pulumi.Output[list[str]]
    """The agents' instance names."""
    remote_write_url: pulumi.Output[str]
    """Where the agents write."""
    cluster: str
    """The fleet's ``cluster`` label."""

    def __init__(self, name: str, args: AgentFleetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        a, target = split_args(AgentFleetArgs, args)
        receive = pop_dependency(
            "AgentFleetArgs", a, "receive", ReceiveCluster, "a ReceiveCluster, or none with remote_write_url", required=False
        )
        s = validate_fleet_args(name, a, receive.settings if receive is not None else None, target.kind)
        super().__init__("agentstream:index:AgentFleet", name, None, opts)
        self.settings: FleetSettings = s
        workload_name = f"{name}-agent"
        instances = instance_names(workload_name, s.agents)
        # An explicit URL wins over the ReceiveCluster's service (e.g. a proxy
        # or another region's ingress in front of the same receivers). Without
        # a ReceiveCluster there is a URL (validate_fleet_args made sure).
        if receive is None or s.remote_write_url is not None:
            remote_write = pulumi.Output.from_input(s.remote_write_url)
        else:
            remote_write = receive.remote_write_url

        auth: Optional[dict[str, str]] = None
        secret_files: list[ConfigFile] = []
        ra = s.remote_write_auth
        if ra is not None:
            auth = {"type": ra.type, "file": REMOTE_WRITE_SECRET_FILE}
            if ra.type == "basic" and ra.username is not None:
                auth["username"] = ra.username
            secret_files = [ConfigFile(REMOTE_WRITE_SECRET_FILE, pulumi.Output.secret(ra.secret), secret=True)]

        labels = {DEFAULT_CLUSTER_LABEL: s.cluster, **s.external_labels, s.replica_label: "${INSTANCE}"}
        self_targets = [f"{target.instance_host(workload_name, i)}:{AGENT_PORT}" for i in instances]
        # The tenant header may come from another stack (an edge reads the
        # central receive's), so it can be an Output like the URL.
        config = pulumi.Output.all(remote_write, s.tenant_header).apply(
            lambda v: render_agent_config(
                external_labels=labels,
                scrape_interval=s.scrape_interval,
                self_targets=self_targets,
                static_targets=list(s.static_targets),
                remote_write_url=v[0],
                tenant_header=v[1],
                tenant=s.tenant,
                queue_config=thaw(s.queue_config),
                kubernetes_sd=s.kubernetes_sd,
                auth=auth,
                scrape_jobs=job_dicts(s.scrape_jobs),
            )
        )
        self.config = config
        # Named jobs' targets are live files: a changed list (the receivers
        # scaled) reaches the running agents, which re-read it on change,
        # and replaces none of them.
        job_files = [
            ConfigFile(path, content, live=True, reload_seconds=JOB_FILES_RELOAD_SECONDS)
            for path, content in scrape_job_files(job_dicts(s.scrape_jobs)).items()
        ]
        self.workload = Workload(
            name=workload_name,
            component="prometheus-agent",
            image=s.image,
            args=agent_args(s),
            replicas=s.agents,
            ports=[Port("http", AGENT_PORT)],
            health=HealthCheck(port=AGENT_PORT),
            config_files=[ConfigFile(AGENT_CONFIG_FILE, config), *secret_files, *job_files],
            volumes=[Volume("wal", AGENT_WAL_DIR, size=s.wal_size)],
            user=PROMETHEUS_UID,
            resources=s.resources,
            scheduling=scheduling(s.scheduling),
            storage_class=s.storage_class,
            needs_kubernetes_discovery=s.kubernetes_sd,
        )
        # After receive's write tier on create, and before it on destroy: an
        # agent that stops flushes its remote-write queue for up to its flush
        # deadline (walRetention, see agent_args), which takes no time while
        # receive runs and, once it is gone, lasts until the engine kills the
        # agent (its stop grace, 120s). Only an ordering: a change to receive
        # never replaces the agents, and an agent does not wait for receive's
        # health check (remote write retries until it answers). The servers
        # only: the one-shot helpers (the ring's writers) and health gates
        # hold nothing up.
        depends = receive.write_tier.servers if receive is not None else None
        self.deployed = target.deploy(self.workload, parent=self, depends_on=depends)
        self.agents = pulumi.Output.from_input(instances)
        self.remote_write_url = remote_write
        self.cluster = s.cluster
        self.target = target
        self.workloads = [self.workload]
        self.register_outputs({"agents": self.agents, "remote_write_url": self.remote_write_url})
