"""SelfMonitoring: the pipeline watching itself.

A small fleet of agents (an ``AgentFleet``) scrapes every component it is
given: its ``receive`` cluster always (each receiver and router, Query, the
frontend, Store, the compactor), and the ``object_store``, the ``fleets``'
agents and the ``alerting`` Ruler and Alertmanager when given and writes to a tenant of its own, so the global view holds
``up{job=...}`` and the failure counters the shipped alert rules
(``rules/agentstream.yaml``) select by job name.
"""

# No postponed annotations: see object_store.py.
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, TypedDict

import pulumi
from typing_extensions import Required

from .agent_fleet import AgentFleet, validate_fleet_args
from .alerting import Alerting
from .config.prometheus import SELF_JOB
from .object_store import ObjectStore
from .receive_cluster import ReceiveCluster
from .settings import FleetSettings, ReceiveSettings
from .sizing import ResourcesArgs, SchedulingArgs
from .spec import Workload
from .targets import Target, split_args
from .validation import check_instance, check_keys, check_list, pop_dependency

DEFAULT_SCRAPE_INTERVAL = "15s"
DEFAULT_AGENTS = 1


class MetricsEndpoint(NamedTuple):
    job: str
    port: str       # the Workload's port name
    path: str = "/metrics"


# What each kind of workload is scraped as (its Workload.component). The job
# names are what the shipped rules select; mixin-style ``thanos-*`` names.
ENDPOINTS: dict[str, MetricsEndpoint] = {
    "receive": MetricsEndpoint("thanos-receive", "http"),
    "receive-router": MetricsEndpoint("thanos-receive-router", "http"),
    "query": MetricsEndpoint("thanos-query", "http"),
    "query-frontend": MetricsEndpoint("thanos-query-frontend", "http"),
    "store": MetricsEndpoint("thanos-store", "http"),
    "compact": MetricsEndpoint("thanos-compact", "http"),
    "rule": MetricsEndpoint("thanos-rule", "http"),
    "alertmanager": MetricsEndpoint("alertmanager", "http"),
    "prometheus-agent": MetricsEndpoint(SELF_JOB, "http"),
    "seaweedfs": MetricsEndpoint("seaweedfs", "metrics"),
    "minio": MetricsEndpoint("minio", "s3", "/minio/v2/metrics/cluster"),
}


class SelfMonitoringArgs(TypedDict, total=False):
    agents: int
    """Agent instances (default 1)."""
    scrape_interval: str
    """Scrape interval (default ``15s``)."""
    tenant: str
    """Tenant it writes to (default: its name)."""
    wal_size: str
    """WAL volume size (default ``5Gi``)."""
    resources: ResourcesArgs
    """Requests and limits per agent (the fleet defaults)."""
    scheduling: SchedulingArgs
    """Kubernetes only: where the agents may run."""
    storage_class: str
    """Kubernetes only: StorageClass of the WAL volumes."""
    image: str
    """Prometheus image (default pinned in ``versions.py``)."""
    target: Required[Target]
    """Where it runs (required)."""
    receive: Required[ReceiveCluster]
    """The ReceiveCluster it writes to, and scrapes: receivers, routers, Query, the frontend, Store, Compact (required)."""
    object_store: ObjectStore
    """Scrape this object store too (default: none)."""
    fleets: list[AgentFleet]
    """Scrape these fleets' agents too (default: none; its own agents always)."""
    alerting: Alerting
    """Scrape this Ruler and its Alertmanager too (default: none)."""


FLEET_KEYS = ("agents", "scrape_interval", "tenant", "wal_size", "resources", "scheduling", "storage_class", "image")


def scrape_hosts(target: Target, w: Workload) -> list[str]:
    """Each instance's host, where instances have one. A Deployment's pods
    (Kubernetes: Query, the frontend) have no DNS names of their own: such a
    workload is scraped once, through its Service, and its ``up`` says that
    some replica answers."""
    if target.kind == "kubernetes" and not w.stateful:
        return [target.service_host(w.name)]
    return [target.instance_host(w.name, i) for i in w.instance_names()]


def scrape_jobs(components: list[Any]) -> list[dict[str, Any]]:
    """One job per kind of workload, over every instance of each component
    given; pure (instance hosts come from each component's target)."""
    jobs: dict[str, dict[str, Any]] = {}
    for c in components:
        workloads: list[Workload] = c.workloads
        for w in workloads:
            ep = ENDPOINTS.get(w.component)
            port = next((p.port for p in w.ports if p.name == ep.port), None) if ep is not None else None
            if ep is None or port is None:
                continue  # not a kind we scrape, or no metrics port
            job = jobs.setdefault(ep.job, {"name": ep.job, "targets": [], "metrics_path": ep.path})
            job["targets"] += [f"{host}:{port}" for host in scrape_hosts(c.target, w)]
    return list(jobs.values())


def validate_self_monitoring_args(name: str, args: Mapping[str, Any], receive: ReceiveSettings, target_kind: str,
                                  path: str = "selfMonitoring") -> FleetSettings:
    """The fleet settings, validated as an AgentFleet's (errors under ``path``)."""
    return validate_fleet_args(name, fleet_args(args, path), receive, target_kind, path=path)


def fleet_args(args: Mapping[str, Any], path: str = "selfMonitoring") -> dict[str, Any]:
    """The AgentFleet args of the self-monitoring fleet (its defaults added)."""
    a = dict(check_keys(path, dict(args), FLEET_KEYS))
    a.setdefault("agents", DEFAULT_AGENTS)
    a.setdefault("scrape_interval", DEFAULT_SCRAPE_INTERVAL)
    # Pods of the pipeline are scraped by name, not discovered.
    a["kubernetes_sd"] = False
    return a


class SelfMonitoring(pulumi.ComponentResource):
    """Agents that scrape every component of the pipeline into a tenant of their own.

    Outputs: ``agents``, ``jobs`` (job name to targets).
    """

    agents: pulumi.Output[list[str]]
    """The self-monitoring agents' instance names."""
    jobs: dict[str, list[str]]
    """Every job scraped, with its targets."""

    def __init__(self, name: str, args: SelfMonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None):
        a, target = split_args(SelfMonitoringArgs, args)
        receive = pop_dependency("SelfMonitoringArgs", a, "receive", ReceiveCluster, "the ReceiveCluster to write to")
        store = pop_dependency("SelfMonitoringArgs", a, "object_store", ObjectStore, "an ObjectStore, or none", required=False)
        alerting = pop_dependency("SelfMonitoringArgs", a, "alerting", Alerting, "an Alerting, or none", required=False)
        fleets = check_list("SelfMonitoringArgs.fleets", a.pop("fleets", []))
        for i, fleet in enumerate(fleets):
            check_instance(f"SelfMonitoringArgs.fleets[{i}]", fleet, AgentFleet, "AgentFleet components")
        monitor = [c for c in (receive, store, alerting) if c is not None] + fleets
        # Validated here so errors name this component's keys; the fleet
        # below validates the same args again (then without error).
        validate_self_monitoring_args(name, a, receive.settings, target.kind, path="SelfMonitoringArgs")
        super().__init__("agentstream:index:SelfMonitoring", name, None, opts)
        jobs = scrape_jobs(monitor)
        self.fleet = AgentFleet(
            name,
            {**fleet_args(a), "scrape_jobs": jobs, "target": target, "receive": receive},  # type: ignore[typeddict-item]
            opts=pulumi.ResourceOptions(parent=self),
        )
        # What is scraped, its own agents included (they are in their own
        # prometheus-agent job, with the other fleets' agents).
        self.jobs = {j["name"]: j["targets"] for j in scrape_jobs([*monitor, self.fleet])}
        self.agents = self.fleet.agents
        self.register_outputs({"agents": self.agents, "jobs": self.jobs})
