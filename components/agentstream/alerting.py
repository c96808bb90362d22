"""Alerting: a Thanos Ruler on the global view, and an Alertmanager for it.

Agents in agent mode cannot evaluate rules, so a Thanos Ruler evaluates them
against Query: every tenant, every replica deduplicated. It sends alerts to
the Alertmanager this component deploys, or to the user's
(``alertmanager_urls``; then none is deployed). It loads the shipped rule
set (``rules/agentstream.yaml``, the alerts a user of this pipeline needs;
they select the jobs the self-monitoring fleet scrapes) and the user's own
rule files.
"""

# No postponed annotations: see object_store.py.
import re
from collections.abc import Mapping
from typing import Any, Optional, TypedDict

import pulumi
import yaml
from typing_extensions import Required

from . import versions
from .config.alerting import (
    ALERTMANAGER_CLUSTER_PORT,
    ALERTMANAGER_CONFIG_FILE,
    ALERTMANAGER_DATA_DIR,
    ALERTMANAGER_PORT,
    DEFAULT_RULE_FILE,
    RULE_DIR,
    RULER_DATA_DIR,
    RULER_GRPC_PORT,
    RULER_HTTP_PORT,
    alertmanager_args,
    default_rules,
    render_alertmanager_config,
    ruler_args,
)
from .config.thanos import HTTP_PORT as QUERY_HTTP_PORT
from .config.thanos import OBJSTORE_FILE
from .settings import AlertingSettings, AlertmanagerSettings, ReceiveSettings, frozen_map
from .object_store import ObjectStore
from .receive_cluster import THANOS_UID, ReceiveCluster
from .sizing import ResourcesArgs, SchedulingArgs, scheduling, validate_resources, validate_scheduling, validate_storage_class
from .spec import INSTANCE_ARG, ConfigFile, HealthCheck, Port, Resources, Volume, Workload, instance_names
from .targets import split_args
from .validation import (
    checked,
    check_bool,
    check_duration,
    check_http_url,
    check_image,
    check_int,
    check_keys,
    check_list,
    check_port,
    check_size,
    pop_dependency,
)

DEFAULT_EVAL_INTERVAL = "30s"
# Docker host ports: beside Query's 10902 and the frontend's 10912.
DEFAULT_RULER_PORT = 10922
DEFAULT_ALERTMANAGER_PORT = 9093
DEFAULT_RETENTION = "48h"
DEFAULT_STORAGE_SIZE = "2Gi"
DEFAULT_RESOURCES = Resources(cpu_request="100m", memory_request="256Mi", cpu_limit="1", memory_limit="1Gi")
DEFAULT_ALERTMANAGER_RESOURCES = Resources(cpu_request="50m", memory_request="64Mi", cpu_limit="500m", memory_limit="256Mi")
DEFAULT_ALERTMANAGER_STORAGE = "1Gi"
ALERTMANAGER_UID = "65534"  # nobody, as in the upstream image
# Alertmanager's top-level config keys (its config.Config).
ALERTMANAGER_CONFIG_KEYS = (
    "global", "route", "receivers", "inhibit_rules", "templates", "time_intervals", "mute_time_intervals", "tracing",
)
# The Ruler loads RULE_DIR/*.yaml, so a file must end in .yaml to be read at all.
RULE_FILE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.yaml$")
RULE_KEYS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")
GROUP_KEYS = ("name", "interval", "rules", "limit", "query_offset", "partial_response_strategy")


class AlertmanagerArgs(TypedDict, total=False):
    """The Alertmanager this component deploys (when ``alertmanager_urls`` is not given)."""

    replicas: int
    """Instances (default 1); two or more gossip as one cluster and the Ruler sends to each."""
    config: dict[str, Any]
    """``alertmanager.yml`` as a mapping (default: one receiver without integrations).
    Stored as a secret: receivers carry tokens."""
    port: int
    """Docker: host port of its API on the publish address (default 9093)."""
    storage_size: str
    """Volume for silences and the notification log (default ``1Gi``)."""
    resources: ResourcesArgs
    """Requests and limits per instance (default requests 50m/64Mi, limits 500m/256Mi)."""
    image: str
    """Alertmanager image (default pinned in ``versions.py``)."""


class AlertingArgs(TypedDict, total=False):
    eval_interval: str
    """How often rules are evaluated (default ``30s``)."""
    retention: str
    """The Ruler's local TSDB retention (default ``48h``); with a bucket its blocks are uploaded too."""
    replicas: int
    """Ruler instances (default 1); more evaluate the same rules, alerts are merged by Alertmanager."""
    default_rules: bool
    """Load the shipped rule set ``rules/agentstream.yaml`` (default true)."""
    rule_files: dict[str, Any]
    """The user's rule files: file name (``*.yaml``) to content (Prometheus rule-file YAML text or mapping)."""
    alertmanager_urls: list[str]
    """Send alerts to these Alertmanagers (``http(s)://host:port``) and deploy none (default: deploy one)."""
    alertmanager: AlertmanagerArgs
    """The deployed Alertmanager's settings."""
    port: int
    """Docker: host port of the Ruler's HTTP API on the publish address (default 10922)."""
    storage_size: str
    """The Ruler's data volume (default ``2Gi``)."""
    storage_class: str
    """Kubernetes only: StorageClass of the volumes (default: the target's)."""
    resources: ResourcesArgs
    """Requests and limits per Ruler (default requests 100m/256Mi, limits 1/1Gi)."""
    scheduling: SchedulingArgs
    """Kubernetes only: where the Ruler and Alertmanager may run."""
    image: str
    """Thanos image for the Ruler (default pinned in ``versions.py``)."""
    target: Required[Any]
    """Where it runs: a ``DockerTarget`` or ``KubernetesTarget`` (required)."""
    receive: Required[ReceiveCluster]
    """The ReceiveCluster whose Query the rules are evaluated against (required)."""
    object_store: ObjectStore
    """Upload the Ruler's blocks (``ALERTS``, recorded series) to this bucket (default: keep them local)."""


def validate_alerting_args(args: Mapping[str, Any], target_kind: str, path: str = "alerting") -> AlertingSettings:
    """Merge defaults and validate (args without ``target``, ``receive``, ``object_store``).
    Errors name keys under ``path`` (the stack's ``alerting`` section by default)."""
    p = path
    a = check_keys(p, dict(args), AlertingArgs.__annotations__)
    check_duration(f"{p}.evalInterval", a.setdefault("eval_interval", DEFAULT_EVAL_INTERVAL))
    check_duration(f"{p}.retention", a.setdefault("retention", DEFAULT_RETENTION))
    check_int(f"{p}.replicas", a.setdefault("replicas", 1), 1, 5)
    check_bool(f"{p}.defaultRules", a.setdefault("default_rules", True))
    a["rule_files"] = _validate_rule_files(f"{p}.ruleFiles", a.get("rule_files") or {}, a["default_rules"])
    if not a["default_rules"] and not a["rule_files"]:
        raise ValueError(f"{p}.defaultRules: false and no ruleFiles, so the Ruler would have nothing to evaluate; "
                         "allowed: true, or give ruleFiles")
    urls = a.setdefault("alertmanager_urls", None)
    if urls is not None:
        for i, u in enumerate(check_list(f"{p}.alertmanagerUrls", urls)):
            check_http_url(f"{p}.alertmanagerUrls[{i}]", u)
        if not urls:
            raise ValueError(f"{p}.alertmanagerUrls: empty; allowed: one or more URLs, or remove it to deploy one")
        if a.get("alertmanager") is not None:
            raise ValueError(f"{p}.alertmanager: set together with alertmanagerUrls, which deploys no Alertmanager; "
                             "allowed: one of the two")
        a["alertmanager"] = None
    else:
        a["alertmanager"] = _validate_alertmanager(f"{p}.alertmanager", a.get("alertmanager") or {}, target_kind)
    check_port(f"{p}.port", a.setdefault("port", DEFAULT_RULER_PORT))
    if a["alertmanager"] is not None and a["alertmanager"].port == a["port"]:
        raise ValueError(f"{p}.alertmanager.port: {a['port']} is also {p}.port; allowed: two different host ports")
    check_size(f"{p}.storageSize", a.setdefault("storage_size", DEFAULT_STORAGE_SIZE))
    a["storage_class"] = validate_storage_class(f"{p}.storageClass", a.get("storage_class"), target_kind)
    a["resources"] = validate_resources(f"{p}.resources", a.get("resources"), DEFAULT_RESOURCES)
    a["scheduling"] = validate_scheduling(f"{p}.scheduling", a.get("scheduling"), target_kind)
    check_image(f"{p}.image", a.setdefault("image", versions.THANOS_IMAGE))
    return AlertingSettings(**{
        **a,
        "rule_files": frozen_map(a["rule_files"]),
        "alertmanager_urls": tuple(urls) if urls is not None else None,
        "scheduling": a["scheduling"],
    })


def _validate_alertmanager(p: str, am: object, target_kind: str) -> AlertmanagerSettings:
    a = dict(check_keys(p, am, AlertmanagerArgs.__annotations__))
    check_int(f"{p}.replicas", a.setdefault("replicas", 1), 1, 5)
    def check_config(config: object) -> None:
        config = check_keys(f"{p}.config", config, ALERTMANAGER_CONFIG_KEYS)
        for key in ("route", "receivers"):
            if key not in config:
                raise ValueError(f"{p}.config.{key}: required in an Alertmanager config")
        check_list(f"{p}.config.receivers", config["receivers"])

    if a.get("config") is not None:
        # An Output (a config holding a secret webhook URL) is checked when it resolves.
        a["config"] = checked(a["config"], check_config)
    check_port(f"{p}.port", a.setdefault("port", DEFAULT_ALERTMANAGER_PORT))
    check_size(f"{p}.storageSize", a.setdefault("storage_size", DEFAULT_ALERTMANAGER_STORAGE))
    a["resources"] = validate_resources(f"{p}.resources", a.get("resources"), DEFAULT_ALERTMANAGER_RESOURCES)
    check_image(f"{p}.image", a.setdefault("image", versions.ALERTMANAGER_IMAGE))
    return AlertmanagerSettings(**a)


def _validate_rule_files(p: str, files: object, with_default: bool) -> dict[str, str]:
    """File name to YAML text; each file parsed and its groups' shape checked
    here (PromQL itself is checked by ``promtool check rules`` in the e2e)."""
    out: dict[str, str] = {}
    if not isinstance(files, dict):
        raise ValueError(f"{p}: must be a mapping of file name (*.yaml) to rule-file content")
    for name, content in files.items():
        field = f"{p}.{name}"
        if not isinstance(name, str) or not RULE_FILE_RE.match(name):
            raise ValueError(f"{field}: not a rule file name; allowed: lower-case letters, digits, '_', '.', '-', "
                             "ending in .yaml (the Ruler loads *.yaml)")
        if with_default and name == DEFAULT_RULE_FILE:
            raise ValueError(f"{field}: the shipped rule file's name; allowed: another name, or defaultRules: false")
        if isinstance(content, str):
            try:
                doc = yaml.safe_load(content)
            except yaml.YAMLError as e:
                raise ValueError(f"{field}: not valid YAML ({e.__class__.__name__})") from None
        else:
            doc = content
        groups = check_keys(field, doc, ("groups",)).get("groups")
        for i, group in enumerate(check_list(f"{field}.groups", groups)):
            gfield = f"{field}.groups[{i}]"
            group = check_keys(gfield, group, GROUP_KEYS)
            if not isinstance(group.get("name"), str) or not group["name"]:
                raise ValueError(f"{gfield}.name: required, a non-empty string")
            for j, rule in enumerate(check_list(f"{gfield}.rules", group.get("rules"))):
                rfield = f"{gfield}.rules[{j}]"
                rule = check_keys(rfield, rule, RULE_KEYS)
                if ("alert" in rule) == ("record" in rule):
                    raise ValueError(f"{rfield}: needs exactly one of alert, record")
                if not isinstance(rule.get("expr"), (str, int, float)) or rule.get("expr") == "":
                    raise ValueError(f"{rfield}.expr: required, a PromQL expression")
                if "for" in rule:
                    check_duration(f"{rfield}.for", rule["for"], allow_zero=True)
        out[name] = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    return out


def _check_host_ports(a: AlertingSettings, receive: ReceiveSettings) -> None:
    """The Ruler's and Alertmanager's host ports against receive's (one Docker host)."""
    taken = {receive.query_port: "receive.queryPort"}
    if receive.publish_remote_write:
        taken[receive.remote_write_port] = "receive.remoteWritePort"
    if receive.query_frontend is not None:
        taken[receive.query_frontend.port] = "receive.queryFrontend.port"
    ours = {"alerting.port": a.port}
    if a.alertmanager is not None:
        ours["alerting.alertmanager.port"] = a.alertmanager.port
    for key, port in ours.items():
        if port in taken:
            raise ValueError(f"{key}: {port} is also {taken[port]}; allowed: a host port no other component uses")


class Alerting(pulumi.ComponentResource):
    """A Thanos Ruler evaluating the shipped and the user's rules against
    Query, and (unless ``alertmanager_urls``) an Alertmanager.

    Outputs: ``ruler_url``, ``alertmanager_url`` (None with the user's), ``rule_files``.
    """

    ruler_url: pulumi.Output[str]
    """The Ruler's HTTP API and UI (alerts, rules)."""
    alertmanager_url: Optional[pulumi.Output[str]]
    """The deployed Alertmanager's API, if one is deployed."""
    rule_files: list[str]
    """The rule files the Ruler loads."""

    def __init__(self, name: str, args: AlertingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        a, target = split_args(AlertingArgs, args)
        receive = pop_dependency("AlertingArgs", a, "receive", ReceiveCluster, "the ReceiveCluster to evaluate against")
        store = pop_dependency("AlertingArgs", a, "object_store", ObjectStore, "an ObjectStore, or none", required=False)
        s = validate_alerting_args(a, target.kind)
        _check_host_ports(s, receive.settings)
        super().__init__("agentstream:index:Alerting", name, None, opts)
        self.target = target
        self.workloads: list[Workload] = []
        self.alertmanager_url = None

        am_urls: list[str] = list(s.alertmanager_urls or [])
        am_deployed = None
        am = s.alertmanager
        if am is not None:
            am_name = f"{name}-alertmanager"
            hosts = [target.instance_host(am_name, i) for i in instance_names(am_name, am.replicas)]
            # Each instance is given every instance as a peer, itself
            # included (memberlist skips its own address), so one argv fits all.
            peers = [f"{h}:{ALERTMANAGER_CLUSTER_PORT}" for h in hosts] if am.replicas > 1 else []
            # render_alertmanager_config(None) is the default config.
            config = pulumi.Output.from_input(am.config).apply(render_alertmanager_config)
            self.alertmanager = Workload(
                name=am_name,
                component="alertmanager",
                image=am.image,
                args=alertmanager_args(peers=peers),
                replicas=am.replicas,
                ports=[Port("http", ALERTMANAGER_PORT, publish=True, host_port=am.port), *([Port("cluster", ALERTMANAGER_CLUSTER_PORT)] if peers else [])],
                health=HealthCheck(port=ALERTMANAGER_PORT),
                config_files=[ConfigFile(ALERTMANAGER_CONFIG_FILE, pulumi.Output.secret(config), secret=True)],
                volumes=[Volume("data", ALERTMANAGER_DATA_DIR, size=am.storage_size)],
                user=ALERTMANAGER_UID,
                resources=am.resources,
                scheduling=scheduling(s.scheduling),
                storage_class=s.storage_class,
                stop_grace_seconds=30,
            )
            self.workloads.append(self.alertmanager)
            am_deployed = target.deploy(self.alertmanager, parent=self)
            # Every instance: Alertmanagers do not forward alerts to each other.
            am_urls = [f"http://{h}:{ALERTMANAGER_PORT}" for h in hosts]
            self.alertmanager_url = pulumi.Output.from_input(am_deployed.urls["http"])

        files = {DEFAULT_RULE_FILE: default_rules()} if s.default_rules else {}
        files.update(s.rule_files)
        self.rule_files = sorted(files)
        store_files: list[ConfigFile] = []
        store_volumes: list[Volume] = []
        if store is not None:
            store_files = [ConfigFile(OBJSTORE_FILE, store.objstore_config, secret=True)]
            store_volumes = list(store.volumes)
        query = f"{target.service_host(receive.query.name)}:{QUERY_HTTP_PORT}"
        self.ruler = Workload(
            name=f"{name}-rule",
            component="rule",
            image=s.image,
            args=ruler_args(
                s, name=name, instance=INSTANCE_ARG, query_addresses=[query], alertmanager_urls=am_urls,
                objstore_file=OBJSTORE_FILE if store is not None else None,
            ),
            replicas=s.replicas,
            ports=[Port("grpc", RULER_GRPC_PORT), Port("http", RULER_HTTP_PORT, publish=True, host_port=s.port)],
            health=HealthCheck(port=RULER_HTTP_PORT),
            config_files=[*(ConfigFile(f"{RULE_DIR}/{f}", text) for f, text in sorted(files.items())), *store_files],
            volumes=[Volume("data", RULER_DATA_DIR, size=s.storage_size), *store_volumes],
            user=THANOS_UID,
            resources=s.resources,
            scheduling=scheduling(s.scheduling),
            storage_class=s.storage_class,
        )
        self.workloads.append(self.ruler)
        # After the Alertmanager, so the first alerts have somewhere to go.
        depends = [*(am_deployed.resources if am_deployed else []), *(store.resources if store else [])]
        ruler_deployed = target.deploy(self.ruler, parent=self, depends_on=depends or None)
        self.ruler_url = pulumi.Output.from_input(ruler_deployed.urls["http"])
        self.register_outputs(
            {"ruler_url": self.ruler_url, "alertmanager_url": self.alertmanager_url, "rule_files": self.rule_files}
        )
