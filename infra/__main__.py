"""The agentstream stack program.

read config -> validate everything -> pick a target -> compose components -> export.

``role`` splits one pipeline across stacks: ``all`` (dev: everything in one
stack), ``central`` (object store, receive, query) and ``edge`` (fleets only,
writing to the central stack's receive through a StackReference).
"""

from __future__ import annotations

import json
import os
import sys

import pulumi

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
# Running from a checkout without `pip install`: fall back to the source tree.
sys.path.append(os.path.join(HERE, "..", "components"))

import agentstream as a  # noqa: E402
import settings  # noqa: E402
from agentstream.agent_fleet import DEFAULT_TENANT_HEADER  # noqa: E402
from agentstream.settings import FleetSettings  # noqa: E402

# The self-monitoring fleet's name (its cluster label and default tenant).
SELF_MONITORING = "meta"


def read_raw_config() -> dict:
    """Every ``agentstream:*`` key, decoded (objects arrive as JSON)."""
    raw = {}
    # Every key set in the project's namespace, not only the known ones, so
    # settings.parse can reject a typo instead of silently deploying defaults.
    from pulumi.runtime import config as runtime_config

    present = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    unknown = sorted(k.split(":", 1)[1] for k in present if k.startswith("agentstream:"))
    for key in [*settings.TOP_KEYS, *(k for k in unknown if k not in settings.TOP_KEYS)]:
        value = pulumi.runtime.get_config(f"agentstream:{key}")
        if value is None:
            continue
        if key in settings.STRING_KEYS:
            raw[key] = value  # a token like "1234" must stay a string
            continue
        try:
            raw[key] = json.loads(value)
        except (TypeError, ValueError):
            raw[key] = value
    return raw


def prepare(s: dict) -> dict:
    """Validate every component's args before anything is created.

    A bad config must never half-deploy, so all of it is checked here, with
    the components' own validators, before the first resource exists.
    """
    from agentstream.agent_fleet import validate_fleet_args
    from agentstream.object_store import validate_object_store_args
    from agentstream.receive_cluster import validate_receive_args
    from agentstream.targets.docker import validate_docker_args
    from agentstream.targets.kubernetes import validate_kubernetes_args

    if s["target"] == "docker":
        validate_docker_args(s["docker"])
    else:
        validate_kubernetes_args(s["kubernetes"])
    images = s["images"]
    ingress = s["kubernetes"].get("ingress")
    if ingress is not None and (s["role"] == "edge" or s["receive"].get("publish_remote_write") is False):
        raise ValueError(
            "agentstream:kubernetes.ingress: nothing to expose (it serves receive's remote write, which this stack "
            "does not publish); allowed: remove it, or use it in a central/all stack with receive.publishRemoteWrite"
        )
    plan: dict = {
        "central": s["role"] in ("all", "central"), "store": None, "receive": None, "fleets": {},
        "self_monitoring": None, "alerting": None,
    }
    if s["role"] == "all" and not s["fleets"]:
        raise ValueError("agentstream:fleets: role 'all' needs at least one fleet")
    receive_settings = None
    if plan["central"]:
        engine = s["object_store"].get("engine", "seaweedfs")
        plan["store"] = {**s["object_store"], **({"image": images[engine]} if engine in images else {})}
        validate_object_store_args(plan["store"], s["target"])
        plan["receive"] = {**s["receive"], **({"image": images["thanos"]} if "thanos" in images else {})}
        receive_settings = validate_receive_args(plan["receive"], s["target"])
        if s["alerting"] is not None:
            from agentstream.alerting import validate_alerting_args

            plan["alerting"] = {**s["alerting"], **({"image": images["thanos"]} if "thanos" in images else {})}
            if "alertmanager" in images and plan["alerting"].get("alertmanager_urls") is None:
                plan["alerting"]["alertmanager"] = {**plan["alerting"].get("alertmanager", {}), "image": images["alertmanager"]}
            validate_alerting_args(dict(plan["alerting"]), s["target"], path="agentstream:alerting")
    series_owner: dict = {}
    for f in s["fleets"]:
        args = {k: v for k, v in f.items() if k != "name"}
        if "prometheus" in images:
            args["image"] = images["prometheus"]
        # Edge fleets get their URL from the central stack at deploy time;
        # validate them as if it were already known.
        probe = args if "remote_write_url" in args or receive_settings else {**args, "remote_write_url": "https://central"}
        checked = validate_fleet_args(f["name"], probe, receive_settings, s["target"])
        check_distinct_series(f["name"], checked, series_owner)
        plan["fleets"][f["name"]] = args
    if plan["central"] and s["self_monitoring"] is not None:
        from agentstream.self_monitoring import validate_self_monitoring_args

        if SELF_MONITORING in plan["fleets"]:
            raise ValueError(
                f"fleets[{SELF_MONITORING}].name: the self-monitoring fleet's name; allowed: another name, or "
                "selfMonitoring.enabled: false"
            )
        plan["self_monitoring"] = {**s["self_monitoring"], **({"image": images["prometheus"]} if "prometheus" in images else {})}
        checked = validate_self_monitoring_args(
            SELF_MONITORING, dict(plan["self_monitoring"]), receive_settings, s["target"], path="agentstream:selfMonitoring"
        )
        check_distinct_series(SELF_MONITORING, checked, series_owner)
    return plan


def check_distinct_series(name: str, fleet: FleetSettings, owners: dict) -> None:
    """Refuse a fleet whose series another fleet of the stack would also write.

    Receive stores a series under its tenant and labels; Query then drops the
    agents' replica label to deduplicate. Two fleets with the same tenant,
    cluster label and external labels therefore write series Query cannot
    tell apart: it merges them as if they were replicas of one fleet.
    ``owners`` maps that identity to the first fleet that claimed it.
    """
    identity = (fleet.tenant, fleet.cluster, tuple(sorted(fleet.external_labels.items())))
    other = owners.setdefault(identity, name)
    if other != name:
        raise ValueError(
            f"fleets[{name}].cluster: {fleet.cluster!r} with tenant {fleet.tenant!r} and the same "
            f"externalLabels is also fleets[{other}]'s, so Query would merge the two fleets' series; allowed: "
            "a cluster label, tenant or externalLabels value of its own per fleet"
        )


def main() -> None:
    s = settings.parse(read_raw_config())
    plan = prepare(s)

    if s["target"] == "docker":
        target = a.DockerTarget("docker", s["docker"])
    else:
        target = a.KubernetesTarget("kubernetes", s["kubernetes"])

    receive = store = alerting = None
    if plan["central"]:
        store_args = plan["store"]
        if store_args.get("engine") == "external":
            store_args["external_config"] = pulumi.Output.secret(store_args["external_config"])
        store = a.ObjectStore("objstore", {**store_args, "target": target})
        receive = a.ReceiveCluster("central", {**plan["receive"], "target": target, "object_store": store})
        pulumi.export("query_url", receive.query_url)
        pulumi.export("query_direct_url", receive.query_direct_url)
        pulumi.export("remote_write_url", receive.remote_write_url)
        pulumi.export("external_remote_write_url", receive.external_remote_write_url)
        pulumi.export("store_endpoints", receive.store_endpoints)
        pulumi.export("hashring", receive.hashring)
        pulumi.export("tenant_header", receive.tenant_header)
        pulumi.export("object_store_endpoint", store.endpoint)
        pulumi.export("bucket", store.bucket)
        if plan["alerting"] is not None:
            alerting = a.Alerting(
                "alerting", {**plan["alerting"], "target": target, "receive": receive, "object_store": store}
            )
            pulumi.export("ruler_url", alerting.ruler_url)
            pulumi.export("alertmanager_url", alerting.alertmanager_url)

    central = None
    if s["role"] == "edge" and s["central_stack"]:
        central = pulumi.StackReference(s["central_stack"])
        pulumi.export("central_stack", s["central_stack"])

    fleets = {}
    monitored: list = []
    for name, args in plan["fleets"].items():
        if central is not None and "remote_write_url" not in args:
            # internal: the central's in-cluster service (edges in the same
            # cluster); external: its ingress or published port.
            output = "remote_write_url" if s["central_endpoint"] == "internal" else "external_remote_write_url"
            args["remote_write_url"] = central.require_output(output)
            # Send the header the central receive reads its tenant from.
            args["tenant_header"] = central.get_output("tenant_header").apply(lambda h: h or DEFAULT_TENANT_HEADER)
        fleet = a.AgentFleet(name, {**args, "target": target, "receive": receive})
        fleets[name] = fleet.agents
        monitored.append(fleet)
    pulumi.export("fleets", fleets)
    if plan["self_monitoring"] is not None and receive is not None:
        meta = a.SelfMonitoring(
            SELF_MONITORING,
            {**plan["self_monitoring"], "object_store": store, "alerting": alerting, "fleets": monitored,
             "target": target, "receive": receive},
        )
        pulumi.export("self_monitoring", {"agents": meta.agents, "jobs": meta.jobs})


main()
