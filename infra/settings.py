"""Stack config -> typed component args, validated before any resource exists.

Pulumi config uses camelCase keys under the ``agentstream:`` namespace; the
components take snake_case args. Unknown keys are errors, not silently
ignored: a typo in a stack file must not deploy defaults.
"""

from __future__ import annotations

from typing import Any

from agentstream.agent_fleet import AgentFleetArgs, RemoteWriteAuth, ScrapeJob
from agentstream.alerting import AlertingArgs, AlertmanagerArgs
from agentstream.object_store import ObjectStoreArgs
from agentstream.receive_cluster import QueryFrontendArgs, QueryFrontendCache, ReceiveClusterArgs, ReceiveResources
from agentstream.self_monitoring import SelfMonitoringArgs
from agentstream.sizing import SchedulingArgs, stack_keys
from agentstream.targets.docker import DockerTargetArgs
from agentstream.targets.kubernetes import IngressArgs, KubernetesTargetArgs
from agentstream.validation import check_bool, check_image, check_keys

ROLES = ("all", "central", "edge")
TARGETS = ("docker", "kubernetes")

# config key -> component arg, per section: derived from the components'
# args (camelCase of each field), so a new arg is a new stack key. Omitted:
# dependencies (target, receive, object store), images (agentstream:images),
# and what the stack program derives (a fleet's tenant header).
OBJECT_STORE_KEYS = stack_keys(ObjectStoreArgs, omit=("target", "image", "external_config"))
RECEIVE_KEYS = stack_keys(ReceiveClusterArgs, omit=("target", "object_store", "image"))
FLEET_KEYS = stack_keys(AgentFleetArgs, omit=("target", "receive", "image", "tenant_header"), extra=("name",))
SCRAPE_JOB_KEYS = stack_keys(ScrapeJob)
# On unless enabled is false (the self-monitoring fleet, role all/central);
# off unless enabled is true (the Ruler and Alertmanager).
SELF_MONITORING_KEYS = stack_keys(SelfMonitoringArgs, omit=("target", "receive", "image", "object_store", "fleets", "alerting"), extra=("enabled",))
ALERTING_KEYS = stack_keys(AlertingArgs, omit=("target", "receive", "object_store", "image"), extra=("enabled",))
# alerting.alertmanager.config is Alertmanager's own alertmanager.yml, as is.
ALERTMANAGER_KEYS = stack_keys(AlertmanagerArgs, omit=("image",))
FRONTEND_KEYS = stack_keys(QueryFrontendArgs)
FRONTEND_CACHE_KEYS = stack_keys(QueryFrontendCache)
# receive.resources: one entry per role, each {requests: {cpu, memory}, limits: {cpu, memory}}.
RECEIVE_RESOURCES_KEYS = stack_keys(ReceiveResources)
# Kubernetes only; the values are raw Kubernetes objects, camelCase inside.
SCHEDULING_KEYS = stack_keys(SchedulingArgs)
# The token or password comes from the secret agentstream:remoteWriteSecret.
AUTH_KEYS = stack_keys(RemoteWriteAuth, omit=("secret",))
DOCKER_KEYS = stack_keys(DockerTargetArgs)
KUBERNETES_KEYS = stack_keys(KubernetesTargetArgs)
INGRESS_KEYS = stack_keys(IngressArgs)
# Which of the central stack's remote-write URLs an edge writes to.
CENTRAL_ENDPOINTS = ("internal", "external")
IMAGE_KEYS = ("prometheus", "thanos", "seaweedfs", "minio", "alertmanager")
TOP_KEYS = (
    "target", "role", "docker", "kubernetes", "objectStore", "objstoreConfig", "receive", "fleets",
    "selfMonitoring", "alerting", "centralStack", "centralEndpoint", "remoteWriteSecret", "images",
)
# Secret text read verbatim, never JSON-decoded.
STRING_KEYS = ("remoteWriteSecret",)


def _map(section: str, value: Any, keys: dict[str, str]) -> dict[str, Any]:
    if value is None:
        return {}
    check_keys(f"agentstream:{section}", value, keys)
    return {keys[k]: v for k, v in value.items()}


def _map_scheduling(section: str, args: dict[str, Any]) -> None:
    """A section's ``scheduling`` keys to arg names, in place (the values stay Kubernetes' own)."""
    if "scheduling" in args:
        args["scheduling"] = _map(f"{section}.scheduling", args["scheduling"], SCHEDULING_KEYS)


def parse(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn the stack's ``agentstream:*`` config (already YAML-decoded) into settings."""
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        raise ValueError(f"agentstream:{unknown[0]}: unknown config key; allowed keys: {', '.join(TOP_KEYS)}")
    s: dict[str, Any] = {}
    s["target"] = raw.get("target", "docker")
    if s["target"] not in TARGETS:
        raise ValueError(f"agentstream:target: {s['target']!r} is not allowed; allowed values: {', '.join(TARGETS)}")
    s["role"] = raw.get("role", "all")
    if s["role"] not in ROLES:
        raise ValueError(f"agentstream:role: {s['role']!r} is not allowed; allowed values: {', '.join(ROLES)}")
    s["docker"] = _map("docker", raw.get("docker"), DOCKER_KEYS)
    s["kubernetes"] = _map("kubernetes", raw.get("kubernetes"), KUBERNETES_KEYS)
    if "ingress" in s["kubernetes"]:
        s["kubernetes"]["ingress"] = _map("kubernetes.ingress", s["kubernetes"]["ingress"], INGRESS_KEYS)
    if s["target"] == "docker" and raw.get("kubernetes"):
        raise ValueError("agentstream:kubernetes: set, but agentstream:target is 'docker'; allowed: remove it or use target kubernetes")
    s["object_store"] = _map("objectStore", raw.get("objectStore"), OBJECT_STORE_KEYS)
    _map_scheduling("objectStore", s["object_store"])
    s["objstore_config"] = raw.get("objstoreConfig")
    if s["objstore_config"] is not None:
        s["object_store"]["external_config"] = s["objstore_config"]
    s["receive"] = _map("receive", raw.get("receive"), RECEIVE_KEYS)
    if "query_frontend" in s["receive"]:
        fe = s["receive"]["query_frontend"] = _map("receive.queryFrontend", s["receive"]["query_frontend"], FRONTEND_KEYS)
        if "cache" in fe:
            fe["cache"] = _map("receive.queryFrontend.cache", fe["cache"], FRONTEND_CACHE_KEYS)
    if "resources" in s["receive"]:
        s["receive"]["resources"] = _map("receive.resources", s["receive"]["resources"], RECEIVE_RESOURCES_KEYS)
    _map_scheduling("receive", s["receive"])

    images = raw.get("images") or {}
    if not isinstance(images, dict) or any(k not in IMAGE_KEYS for k in images):
        bad = next((k for k in images if k not in IMAGE_KEYS), images) if isinstance(images, dict) else images
        raise ValueError(f"agentstream:images.{bad}: unknown image; allowed keys: {', '.join(IMAGE_KEYS)}")
    for k, v in images.items():
        check_image(f"agentstream:images.{k}", v)
    s["images"] = images

    fleets_raw = raw.get("fleets") or []
    if not isinstance(fleets_raw, list):
        raise ValueError("agentstream:fleets: must be a list of fleets, each with at least a name")
    fleets = []
    for i, f in enumerate(fleets_raw):
        fleet = _map(f"fleets[{i}]", f, FLEET_KEYS)
        _map_scheduling(f"fleets[{i}]", fleet)
        if "name" not in fleet:
            raise ValueError(f"agentstream:fleets[{i}].name: required")
        if "scrape_jobs" in fleet and isinstance(fleet["scrape_jobs"], list):
            fleet["scrape_jobs"] = [
                _map(f"fleets[{i}].scrapeJobs[{j}]", job, SCRAPE_JOB_KEYS) for j, job in enumerate(fleet["scrape_jobs"])
            ]
        if "remote_write_auth" in fleet:
            fleet["remote_write_auth"] = _map(f"fleets[{i}].remoteWriteAuth", fleet["remote_write_auth"], AUTH_KEYS)
            if raw.get("remoteWriteSecret") is not None:
                fleet["remote_write_auth"]["secret"] = raw["remoteWriteSecret"]
        fleets.append(fleet)
    names = [f["name"] for f in fleets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"agentstream:fleets: duplicate fleet name {dupes[0]!r}; allowed: unique names")
    s["fleets"] = fleets

    s["self_monitoring"] = _map("selfMonitoring", raw.get("selfMonitoring"), SELF_MONITORING_KEYS)
    _map_scheduling("selfMonitoring", s["self_monitoring"])
    s["alerting"] = _map("alerting", raw.get("alerting"), ALERTING_KEYS)
    _map_scheduling("alerting", s["alerting"])
    if "alertmanager" in s["alerting"]:
        s["alerting"]["alertmanager"] = _map("alerting.alertmanager", s["alerting"]["alertmanager"], ALERTMANAGER_KEYS)
    for section, key, default in (("selfMonitoring", "self_monitoring", True), ("alerting", "alerting", False)):
        on = check_bool(f"agentstream:{section}.enabled", s[key].pop("enabled", default))
        if on and s["role"] == "edge" and section in raw:
            raise ValueError(
                f"agentstream:{section}: an edge stack has no receive cluster to watch; allowed: set it in the "
                "central stack, or remove it"
            )
        if not on and s[key]:
            raise ValueError(
                f"agentstream:{section}.{next(iter(k for k in raw[section] if k != 'enabled'))}: has no effect with "
                "enabled false; allowed: remove it, or enabled: true"
            )
        s[key] = s[key] if on and s["role"] != "edge" else None

    s["central_stack"] = raw.get("centralStack")
    s["central_endpoint"] = raw.get("centralEndpoint", "internal")
    if s["central_endpoint"] not in CENTRAL_ENDPOINTS:
        raise ValueError(
            f"agentstream:centralEndpoint: {s['central_endpoint']!r} is not allowed; allowed values: "
            f"{', '.join(CENTRAL_ENDPOINTS)} (internal: central's in-cluster service; external: its ingress "
            "or published port, for edges in other clusters)"
        )
    if s["role"] == "edge":
        if not s["central_stack"] and not all(f.get("remote_write_url") for f in fleets):
            raise ValueError(
                "agentstream:centralStack: required for role 'edge' (e.g. organization/agentstream/central), "
                "unless every fleet sets remoteWriteUrl"
            )
        if not fleets:
            raise ValueError("agentstream:fleets: role 'edge' needs at least one fleet")
    if raw.get("remoteWriteSecret") is not None and not any("remote_write_auth" in f for f in fleets):
        raise ValueError("agentstream:remoteWriteSecret: set, but no fleet has remoteWriteAuth; allowed: remove it")
    if "centralEndpoint" in raw and not s["central_stack"]:
        raise ValueError("agentstream:centralEndpoint: only used with agentstream:centralStack; allowed: remove it")
    create_network = check_bool("agentstream:docker.createNetwork", s["docker"].get("create_network", True))
    if (
        s["target"] == "docker"
        and s["role"] == "edge"
        and s["central_stack"]
        and s["central_endpoint"] == "internal"
        and create_network
    ):
        # central's internal URL names containers on central's network; an
        # edge on a network of its own could not resolve them.
        raise ValueError(
            "agentstream:docker.createNetwork: an edge writing to central's internal endpoint must join central's "
            "network; allowed: createNetwork: false with docker.network set to central's network, or "
            "centralEndpoint: external"
        )
    if s["role"] == "central" and fleets:
        raise ValueError("agentstream:fleets: role 'central' deploys no fleets; allowed: put them in edge stacks")
    return s
