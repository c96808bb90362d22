"""The agentstream CrossGuard policies, importable without starting a server.

``PolicyPack(...)`` starts a gRPC server and blocks, so it is built only in
``__main__.py`` (the pack's entry point). Everything else lives here, so tests
and other packs can import the policies.

How the engine hands resources to a pack: ``Analyze`` gets each resource's
*inputs* before it is created or updated (resource policies), ``AnalyzeStack``
gets every resource's *outputs* at the end of the run (stack policies). Both
arrive as plain values: pulumi_policy unwraps secrets before a policy sees
them, so no policy here can tell a Pulumi secret from a plain string. During
``pulumi preview`` of a fresh stack, values computed by providers (random
credentials, image ids, anything derived from them) are *unknown*. Policies
read resources through :func:`plain`, which turns unknowns into
:data:`UNKNOWN`; where a check cannot be decided without the value, the policy
raises pulumi_policy's ``UnknownValueError`` so the engine reports the
standard advisory "can't run policy ... during preview" instead of a false
pass or a false violation.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import posixpath
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional
from urllib.parse import urlsplit

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

PACK_NAME = "agentstream"
PACK_DESCRIPTION = (
    "Guardrails for agentstream stacks: pinned images, replicated Receive, credentials only as secrets, "
    "unique agent labels, safe remote write, restricted pods and containers, one compactor per bucket, "
    "consistent hashrings."
)

# -- resource types -------------------------------------------------------------
DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_IMAGE = "docker:index/image:Image"
K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_SECRET = "kubernetes:core/v1:Secret"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_PERSISTENT_VOLUME = "kubernetes:core/v1:PersistentVolume"
RECEIVE_CLUSTER = "agentstream:index:ReceiveCluster"

# Where each pod-bearing Kubernetes kind keeps its pod template / pod spec.
_POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": (),
    "kubernetes:core/v1:PodTemplate": ("template",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template"),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
}
K8S_POD_TYPES = tuple(_POD_TEMPLATE_PATHS)
K8S_LONG_RUNNING = (
    "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:ReplicationController",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
)

COMPONENT_LABEL = "app.kubernetes.io/component"
THANOS_SUBCOMMANDS = ("receive", "compact", "store", "query", "query-frontend", "sidecar", "rule", "tools")


# -- reading what the engine sent -------------------------------------------------
class _Unknown:
    """A value the engine does not know yet (``pulumi preview``)."""

    _instance: Optional["_Unknown"] = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()


def plain(value: Any) -> Any:
    """Copy pulumi_policy's unknown-checking proxies into dicts and lists.

    Unknown values become :data:`UNKNOWN` instead of raising, so a policy can
    look at everything that *is* known.
    """
    if isinstance(value, (str, bytes)) or value is None:
        return value
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            try:
                item = value[key]
            except UnknownValueError:
                out[key] = UNKNOWN
                continue
            out[key] = plain(item)
        return out
    if isinstance(value, Sequence):
        items = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                items.append(UNKNOWN)
                continue
            items.append(plain(item))
        return items
    return value


def unknown_during_preview(what: str) -> UnknownValueError:
    """The error that makes the engine report "can't run policy during preview"."""
    return UnknownValueError(UNKNOWN_STRING_VALUE, [what])


def dig(obj: Any, *path: Any, default: Any = None) -> Any:
    for key in path:
        if obj is UNKNOWN:
            return UNKNOWN
        if isinstance(obj, dict):
            obj = obj.get(key, default)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
        if obj is None:
            return default
    return obj


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_int(value: Any, default: Optional[int] = None) -> Optional[int]:
    # Protobuf Structs carry numbers as doubles; config strings may be "3".
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def stack_of(urn: str) -> str:
    """``urn:pulumi:<stack>::<project>::<type>::<name>`` -> ``<stack>``."""
    if urn.startswith("urn:pulumi:"):
        return urn[len("urn:pulumi:"):].split("::", 1)[0]
    return ""


def project_of(urn: str) -> str:
    parts = urn[len("urn:pulumi:"):].split("::") if urn.startswith("urn:pulumi:") else []
    return parts[1] if len(parts) > 1 else ""


# -- a target-neutral view of what runs ---------------------------------------------
@dataclass
class EnvVar:
    name: str
    value: Any = None            # literal value (str), UNKNOWN, or None when it comes from elsewhere
    source: str = "value"        # value | secretKeyRef | configMapKeyRef | fieldRef:<path> | resourceFieldRef | unknown


@dataclass
class Container:
    """One container definition: a Docker container or a container in a pod template."""

    name: str
    image: Any
    command: list            # Docker: entrypoints; Kubernetes: command
    args: list               # Docker: command;     Kubernetes: args
    env: list[EnvVar]
    raw: dict = field(default_factory=dict)   # the container's own props
    init: bool = False

    @property
    def argv(self) -> list:
        return [*self.command, *self.args]

    def flag(self, name: str) -> list[str]:
        return flag_values(self.argv, name)

    def has_flag(self, name: str) -> bool:
        return any(a == name or (isinstance(a, str) and a.startswith(name + "=")) for a in self.argv)

    def thanos_subcommand(self) -> Optional[str]:
        for token in self.argv:
            if not isinstance(token, str) or token.startswith("-"):
                continue
            if posixpath.basename(token) == "thanos":
                continue
            return token if token in THANOS_SUBCOMMANDS else None
        return None

    def is_prometheus_agent(self) -> bool:
        return "--agent" in self.argv or "--enable-feature=agent" in self.argv


@dataclass
class Workload:
    """A Docker container or a pod-bearing Kubernetes object."""

    urn: str
    name: str
    type: str
    target: str                    # docker | kubernetes
    props: dict
    labels: dict
    containers: list[Container]
    namespace: str = ""
    replicas: Optional[int] = 1    # None: one per node (DaemonSet) or unknown
    pod_spec: dict = field(default_factory=dict)

    @property
    def component(self) -> Optional[str]:
        value = self.labels.get(COMPONENT_LABEL)
        return value if isinstance(value, str) else None

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    def describe(self) -> str:
        return f"{self.kind} {self.name}"

    def instance_names(self) -> list[str]:
        """Names of the running instances (pods or the container)."""
        if self.target == "docker":
            return [self.name]
        if self.type == "kubernetes:apps/v1:StatefulSet":
            return [f"{self.name}-{i}" for i in range(self.replicas or 0)]
        if self.type == "kubernetes:core/v1:Pod":
            return [self.name]
        # Deployments, ReplicaSets, DaemonSets: random pod names, unique per pod.
        return [f"{self.name}-<pod-{i}>" for i in range(self.replicas if self.replicas is not None else 1)]


def _docker_workload(urn: str, name: str, props: dict) -> Workload:
    labels = {}
    for entry in as_list(props.get("labels")):
        if isinstance(entry, dict) and isinstance(entry.get("label"), str):
            labels[entry["label"]] = entry.get("value")
    env = []
    envs = props.get("envs")
    if envs is UNKNOWN:
        env.append(EnvVar("*", UNKNOWN, "unknown"))
    for entry in as_list(envs):
        if entry is UNKNOWN:
            env.append(EnvVar("*", UNKNOWN, "unknown"))
        elif isinstance(entry, str):
            key, _, value = entry.partition("=")
            env.append(EnvVar(key, value))
    cname = props.get("name") if isinstance(props.get("name"), str) else name
    container = Container(
        name=cname,
        image=props.get("image"),
        command=[a for a in as_list(props.get("entrypoints"))],
        args=[a for a in as_list(props.get("command"))],
        env=env,
        raw=props,
    )
    return Workload(urn, cname, DOCKER_CONTAINER, "docker", props, labels, [container])


def _k8s_env(entries: Any) -> list[EnvVar]:
    env = []
    for entry in as_list(entries):
        if not isinstance(entry, dict):
            continue
        name = entry.get("name") if isinstance(entry.get("name"), str) else "?"
        if "value" in entry:
            env.append(EnvVar(name, entry.get("value"), "value"))
            continue
        source = as_dict(entry.get("valueFrom"))
        if "secretKeyRef" in source:
            env.append(EnvVar(name, None, "secretKeyRef"))
        elif "configMapKeyRef" in source:
            env.append(EnvVar(name, None, "configMapKeyRef"))
        elif "fieldRef" in source:
            env.append(EnvVar(name, None, f"fieldRef:{dig(source, 'fieldRef', 'fieldPath', default='')}"))
        elif "resourceFieldRef" in source:
            env.append(EnvVar(name, None, "resourceFieldRef"))
        else:
            env.append(EnvVar(name, None, "value"))
    return env


def _k8s_workload(urn: str, name: str, type_: str, props: dict) -> Workload:
    path = _POD_TEMPLATE_PATHS[type_]
    template = dig(props, *path) if path else props
    template = as_dict(template)
    spec = as_dict(template.get("spec"))
    labels = as_dict(dig(template, "metadata", "labels"))
    containers = []
    for key, init in (("initContainers", True), ("containers", False), ("ephemeralContainers", True)):
        for c in as_list(spec.get(key)):
            if not isinstance(c, dict):
                continue
            containers.append(
                Container(
                    name=c.get("name") if isinstance(c.get("name"), str) else "?",
                    image=c.get("image"),
                    command=as_list(c.get("command")),
                    args=as_list(c.get("args")),
                    env=_k8s_env(c.get("env")),
                    raw=c,
                    init=init,
                )
            )
    meta = as_dict(props.get("metadata"))
    wname = meta.get("name") if isinstance(meta.get("name"), str) else name
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else "default"
    if type_ == "kubernetes:apps/v1:DaemonSet":
        replicas: Optional[int] = None
    elif type_ in ("kubernetes:core/v1:Pod", "kubernetes:core/v1:PodTemplate", "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"):
        replicas = 1
    else:
        raw = dig(props, "spec", "replicas")
        replicas = None if raw is UNKNOWN else as_int(raw, 1)
    return Workload(urn, wname, type_, "kubernetes", props, labels, containers, namespace, replicas, spec)


def workload_of(type_: str, urn: str, name: str, props: Any) -> Optional[Workload]:
    """The workload a resource runs, or None if it runs nothing."""
    props = props if isinstance(props, dict) else plain(props)
    if type_ == DOCKER_CONTAINER:
        return _docker_workload(urn, name, props)
    if type_ in _POD_TEMPLATE_PATHS:
        return _k8s_workload(urn, name, type_, props)
    return None


def flag_values(argv: Iterable[Any], name: str) -> list[str]:
    """Values of ``--name=value`` and ``--name value`` in argv."""
    values = []
    argv = [a for a in argv]
    for i, arg in enumerate(argv):
        if not isinstance(arg, str):
            continue
        if arg.startswith(name + "="):
            values.append(arg[len(name) + 1:])
        elif arg == name and i + 1 < len(argv) and isinstance(argv[i + 1], str):
            values.append(argv[i + 1])
    return values


# -- images -------------------------------------------------------------------------
_DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE_ID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_problem(ref: Any) -> Optional[str]:
    """Why an image reference is not pinned, or None when it is (or cannot be known)."""
    if ref is UNKNOWN or ref is None:
        return None
    if not isinstance(ref, str) or not ref.strip():
        return f"image {ref!r} is empty; pin it to a version tag or a digest"
    if _DIGEST_RE.search(ref) or _IMAGE_ID_RE.match(ref):
        return None
    if "@" in ref:
        return f"image '{ref}' has a malformed digest; use @sha256:<64 hex digits>"
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image '{ref}' has no tag (Docker pulls 'latest'); pin it to a version tag or a digest"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() == "latest":
        return f"image '{ref}' uses the 'latest' tag; pin it to a version tag or a digest"
    if not any(ch.isdigit() for ch in tag):
        return f"image '{ref}' uses the floating tag '{tag}'; pin it to a version tag (e.g. v1.2.3) or a digest"
    return None


def validate_images_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t = args.resource_type
    props = plain(args.props)
    refs: list[tuple[str, Any]] = []
    if t == DOCKER_REMOTE_IMAGE:
        refs.append((f"RemoteImage {args.name}", props.get("name")))
    elif t == DOCKER_IMAGE:
        refs.append((f"Image {args.name}", props.get("imageName")))
    else:
        w = workload_of(t, args.urn, args.name, props)
        if w is None:
            return
        # A Docker container runs RemoteImage.image_id (a sha256 id, unknown
        # during preview); the RemoteImage itself carries the reference.
        refs += [(f"{w.describe()} container {c.name}", c.image) for c in w.containers]
    for where, ref in refs:
        problem = image_problem(ref)
        if problem:
            report(f"{where}: {problem}.", None)


# -- replication factor and disruption budgets ----------------------------------------
DEFAULT_ALLOW_RF1 = ["dev"]


def rf1_allowed(config: Mapping[str, Any], urn: str) -> bool:
    """Does the policy config let this resource's stack run Receive with RF=1?

    ``allowReplicationFactorOne`` is a boolean (every stack or none) or a
    list of stack names (``dev``) or ``project/stack`` / ``org/project/stack``.
    """
    return stack_allowed(config.get("allowReplicationFactorOne", DEFAULT_ALLOW_RF1), urn)


def stack_allowed(allowed: Any, urn: str) -> bool:
    """Is this resource's stack in an exemption list (or is it ``true``)?"""
    if isinstance(allowed, bool):
        return allowed
    stack = stack_of(urn)
    qualified = f"{project_of(urn)}/{stack}"
    return any(
        isinstance(s, str) and (s == stack or s == qualified or s.endswith("/" + qualified)) for s in as_list(allowed)
    )


def _routes(c: Container) -> bool:
    return c.has_flag("--receive.hashrings-file") or c.has_flag("--receive.hashrings")


def receive_replication_factor(c: Container) -> Optional[int]:
    """RF of a routing receiver (Thanos' default is 1); None if it does not route."""
    if c.thanos_subcommand() != "receive" or not _routes(c):
        return None
    values = c.flag("--receive.replication-factor")
    return as_int(values[-1], 0) if values else 1


def validate_receive_replication_factor(args: ResourceValidationArgs, report: ReportViolation) -> None:
    w = workload_of(args.resource_type, args.urn, args.name, args.props)
    if w is None:
        return
    config = args.get_config()
    for c in w.containers:
        rf = receive_replication_factor(c)
        if rf is None or rf >= 2:
            continue
        if rf1_allowed(config, args.urn):
            continue
        report(
            f"{w.describe()} runs Thanos Receive with replication factor {rf} "
            f"(--receive.replication-factor): losing one receiver loses writes. Use 2 or more (3 recommended), "
            f"or list stack '{stack_of(args.urn)}' in allowReplicationFactorOne.",
            None,
        )


DEFAULT_ALLOW_UNLIMITED_WRITES = ["dev"]


def validate_receive_write_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # Only routing receivers take remote write from agents; ingest-only ones
    # behind a router tier get writes over gRPC, where limits do not apply.
    w = workload_of(args.resource_type, args.urn, args.name, args.props)
    if w is None:
        return
    if stack_allowed(args.get_config().get("allowUnlimitedWrites", DEFAULT_ALLOW_UNLIMITED_WRITES), args.urn):
        return
    for c in w.containers:
        if c.thanos_subcommand() != "receive" or not _routes(c):
            continue
        if c.has_flag("--receive.limits-config-file") or c.has_flag("--receive.limits-config"):
            continue
        report(
            f"{w.describe()} takes remote write with no write limits (--receive.limits-config-file): "
            "one misbehaving edge can overload every receiver. Set receive.limits, "
            f"or list stack '{stack_of(args.urn)}' in allowUnlimitedWrites.",
            None,
        )


def _ceil_percent(value: str, total: int) -> Optional[int]:
    if isinstance(value, str) and value.endswith("%") and value[:-1].strip().isdigit():
        return math.ceil(int(value[:-1]) * total / 100)
    return None


def _selector_matches(selector: Any, labels: dict) -> bool:
    selector = as_dict(selector)
    match_labels = as_dict(selector.get("matchLabels"))
    expressions = as_list(selector.get("matchExpressions"))
    if not match_labels and not expressions:
        return True  # an empty selector selects every pod in the namespace
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for e in expressions:
        e = as_dict(e)
        key, op, values = e.get("key"), e.get("operator"), as_list(e.get("values"))
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def validate_receive_pdb(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    stack = Stack(args.resources)
    for w in stack.workloads:
        if w.target != "kubernetes" or w.type not in K8S_LONG_RUNNING:
            continue
        ingest = [c for c in w.containers if c.thanos_subcommand() == "receive" and c.has_flag("--receive.local-endpoint")]
        if not ingest:
            continue
        if rf1_allowed(config, w.urn):
            continue
        rf = stack.replication_factor_for(w)
        tolerated = rf // 2
        replicas = w.replicas or 1
        pdbs = [
            p for p in stack.of_type(K8S_PDB)
            if (dig(p.props, "metadata", "namespace") or "default") == w.namespace
            and _selector_matches(dig(p.props, "spec", "selector"), w.labels)
        ]
        if not pdbs:
            report(
                f"{w.describe()} runs Thanos Receive (replication factor {rf}) without a PodDisruptionBudget; "
                f"add one selecting its pods with maxUnavailable: {tolerated} (floor(RF/2)) so a node drain "
                f"cannot take down more receivers than the write quorum tolerates.",
                w.urn,
            )
            continue
        for pdb in pdbs:
            spec = as_dict(pdb.props.get("spec"))
            max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
            allowed: Optional[int] = None
            if max_unavailable is not None and max_unavailable is not UNKNOWN:
                allowed = as_int(max_unavailable)
                if allowed is None:
                    allowed = _ceil_percent(max_unavailable, replicas)
            elif min_available is not None and min_available is not UNKNOWN:
                floor_ = as_int(min_available)
                if floor_ is None:
                    floor_ = _ceil_percent(min_available, replicas)
                allowed = None if floor_ is None else replicas - floor_
            # With RF < 2 receive-replication-factor already objects; a budget
            # cannot make a single copy safe, so only its presence is checked.
            if allowed is not None and rf >= 2 and allowed > tolerated:
                pdb_name = dig(pdb.props, "metadata", "name") or pdb.name
                report(
                    f"PodDisruptionBudget {pdb_name} lets {allowed} of {w.describe()}'s receivers go down at once; "
                    f"with replication factor {rf} at most {tolerated} (floor(RF/2)) may be unavailable.",
                    pdb.urn,
                )


# -- credentials only as secrets ------------------------------------------------------
_SECRET_NAME_RE = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_?KEY|API_?KEY|PRIVATE_?KEY|CREDENTIAL|OBJSTORE_?CONFIG)", re.I
)
# A name that points at a file or directory holding the secret is fine.
_REFERENCE_SUFFIX_RE = re.compile(r"(_FILE|_PATH|_DIR|_FILENAME)$", re.I)
_SECRET_ARG_RE = re.compile(
    r"(?i)(secret[_-]?(access[_-]?)?key|access[_-]?key([_-]?id)?|secretkey|accesskey|password|passwd|session[_-]?token|"
    r"auth[_-]?token|api[_-]?key)\s*[:=]\s*['\"]?[^\s'\"]"
)
_CREDENTIAL_TEXT_RE = re.compile(
    r"(?im)^\s*[\"']?(secret_key|access_key|secretKey|accessKey|secret_access_key|aws_secret_access_key|"
    r"session_token|password)[\"']?\s*:\s*[\"']?[^\s\"',}]"
)
_INLINE_OBJSTORE_FLAGS = ("--objstore.config", "--objstore-config", "--tracing.config")


def _secret_like_env(name: str) -> bool:
    return bool(_SECRET_NAME_RE.search(name)) and not _REFERENCE_SUFFIX_RE.search(name)


def credential_text(text: Any) -> bool:
    """True if text carries credentials: an objstore config, S3 identities, a password line."""
    return isinstance(text, str) and bool(_CREDENTIAL_TEXT_RE.search(text))


def validate_credentials_as_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t = args.resource_type
    props = plain(args.props)
    if t == K8S_CONFIG_MAP:
        for section in ("data", "binaryData"):
            for key, value in as_dict(props.get(section)).items():
                if section == "binaryData" and isinstance(value, str):
                    try:
                        value = base64.b64decode(value).decode("utf-8", "replace")
                    except (ValueError, TypeError):
                        continue
                if credential_text(value):
                    report(
                        f"ConfigMap {args.name} key '{key}' holds object-store credentials in plain text; "
                        "put them in a Secret and mount that instead.",
                        None,
                    )
        return
    w = workload_of(t, args.urn, args.name, props)
    if w is None:
        return
    for c in w.containers:
        where = f"{w.describe()}" + ("" if w.target == "docker" else f" container {c.name}")
        for i, arg in enumerate(c.argv):
            if not isinstance(arg, str):
                continue
            flag = arg.split("=", 1)[0]
            if flag in _INLINE_OBJSTORE_FLAGS and (("=" in arg) or i + 1 < len(c.argv)):
                report(
                    f"{where} passes the whole {flag} on its command line, where `ps` and `docker inspect`/"
                    f"`kubectl get pod` show it; mount it as a secret file and use {flag}-file.",
                    None,
                )
            elif _SECRET_ARG_RE.search(arg) or credential_text(arg):
                report(
                    f"{where} has a credential on its command line (argument {i}: '{flag}...'); "
                    "pass it in a secret-backed file or environment variable.",
                    None,
                )
        for var in c.env:
            if var.source in ("secretKeyRef", "unknown", "resourceFieldRef") or var.source.startswith("fieldRef:"):
                continue
            secret_like = _secret_like_env(var.name) or credential_text(var.value)
            if not secret_like:
                continue
            if var.source == "configMapKeyRef":
                report(f"{where} reads {var.name} from a ConfigMap; credentials belong in a Secret (secretKeyRef).", None)
            elif var.value not in (None, "") and var.value is not UNKNOWN:
                hint = (
                    "upload it as a file (Docker cannot keep env values secret: `docker inspect` shows them)"
                    if w.target == "docker"
                    else "use valueFrom.secretKeyRef"
                )
                report(f"{where} sets {var.name} to a plain-text value; {hint}.", None)


# -- agents: unique external labels, safe remote write -----------------------------------
_EXPAND_RE = re.compile(r"\$(\{([^}]*)\}|[A-Za-z_][A-Za-z0-9_]*|\$)")


def expand_env(text: str, env: Mapping[str, Any]) -> str:
    """Prometheus' expansion of ``$VAR``/``${VAR}`` in external labels (undefined: empty)."""

    def sub(m: re.Match) -> str:
        token = m.group(1)
        if token == "$":
            return "$"
        name = m.group(2) if m.group(2) is not None else token
        value = env.get(name, "")
        return value if isinstance(value, str) else f"<{name}>"

    return _EXPAND_RE.sub(sub, text)


def _parse_yaml(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def remote_write_urls(text: Any) -> list[str]:
    doc = _parse_yaml(text)
    if not isinstance(doc, dict):
        return []
    return [rw.get("url") for rw in as_list(doc.get("remote_write")) if isinstance(rw, dict) and isinstance(rw.get("url"), str)]


_IN_CLUSTER_SUFFIXES = (".svc", ".cluster.local")
# Loopback, RFC 1918, link-local, IPv6 unique-local: addresses that stay in a network.
_IN_NETWORK = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10")
]


def insecure_remote_write(url: str, allowed_hosts: Iterable[str]) -> Optional[str]:
    """Why ``url`` is not an acceptable remote-write target, or None."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"remote write URL '{url}' does not parse"
    if parts.scheme == "https":
        return None
    if parts.scheme != "http":
        return f"remote write URL '{url}' uses scheme '{parts.scheme}'; use https"
    if parts.username or parts.password:
        return f"remote write URL '{url}' carries credentials over plain http"
    for allowed in allowed_hosts:
        allowed = allowed.lower()
        if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
            return None
    if host and "." not in host:
        return None  # a Docker network alias or a Kubernetes service in the same namespace
    if host.endswith(_IN_CLUSTER_SUFFIXES) or ".svc." in host:
        return None  # Kubernetes service DNS
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        if any(ip in net for net in _IN_NETWORK if net.version == ip.version):
            return None
    except ValueError:
        if host == "localhost":
            return None
    return (
        f"remote write URL '{url}' sends metrics and tenant headers over plain http to '{host}', "
        "which is neither in-cluster nor in-network; use https (or add the host to allowedHttpHosts)"
    )


def _config_texts(t: str, props: dict, name: str) -> list[tuple[str, Any]]:
    """(where, content) of config files a resource carries inline."""
    if t == DOCKER_CONTAINER:
        return [(f"Container {props.get('name') or name} file {u.get('file')}", u.get("content"))
                for u in as_list(props.get("uploads")) if isinstance(u, dict)]
    if t == K8S_CONFIG_MAP:
        return [(f"ConfigMap {name} key '{k}'", v) for k, v in as_dict(props.get("data")).items()]
    if t == K8S_SECRET:
        return [(f"Secret {name} key '{k}'", v) for k, v in as_dict(props.get("stringData")).items()]
    return []


def validate_remote_write(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = plain(args.props)
    allowed = [h for h in as_list(args.get_config().get("allowedHttpHosts")) if isinstance(h, str)]
    for where, text in _config_texts(args.resource_type, props, args.name):
        for url in remote_write_urls(text):
            problem = insecure_remote_write(url, allowed)
            if problem:
                report(f"{where}: {problem}.", None)


# -- Kubernetes pod security ---------------------------------------------------------------
def _k8s_containers(args: ResourceValidationArgs) -> Optional[Workload]:
    if args.resource_type not in _POD_TEMPLATE_PATHS:
        return None
    return workload_of(args.resource_type, args.urn, args.name, args.props)


def _effective(c: Container, w: Workload, key: str) -> Any:
    value = dig(c.raw, "securityContext", key)
    if value is None:
        value = dig(w.pod_spec, "securityContext", key)
    return value


def _k8s_container_check(check: Callable[[Container, Workload], Optional[str]]):
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        w = _k8s_containers(args)
        if w is None:
            return
        for c in w.containers:
            problem = check(c, w)
            if problem:
                report(f"{w.describe()} container {c.name}: {problem}.", None)

    return validate


def _check_non_root(c: Container, w: Workload) -> Optional[str]:
    user = _effective(c, w, "runAsUser")
    if as_int(user) == 0:
        return "runs as UID 0 (runAsUser: 0); run as a non-root UID"
    if _effective(c, w, "runAsNonRoot") is not True:
        return "does not set runAsNonRoot: true (pod or container securityContext)"
    return None


def _check_read_only_root(c: Container, w: Workload) -> Optional[str]:
    if dig(c.raw, "securityContext", "readOnlyRootFilesystem") is not True:
        return "root filesystem is writable; set securityContext.readOnlyRootFilesystem: true (mount an emptyDir for scratch space)"
    return None


def _check_no_escalation(c: Container, w: Workload) -> Optional[str]:
    if dig(c.raw, "securityContext", "privileged") is True:
        return "runs privileged (securityContext.privileged: true)"
    if dig(c.raw, "securityContext", "allowPrivilegeEscalation") is not False:
        return "allows privilege escalation; set securityContext.allowPrivilegeEscalation: false"
    return None


def _check_drop_all(c: Container, w: Workload) -> Optional[str]:
    caps = as_dict(dig(c.raw, "securityContext", "capabilities"))
    drop = [str(x).upper() for x in as_list(caps.get("drop"))]
    if "ALL" not in drop:
        return "does not drop ALL capabilities; set securityContext.capabilities.drop: [ALL]"
    added = [str(x).upper() for x in as_list(caps.get("add")) if str(x).upper() not in ("NET_BIND_SERVICE",)]
    if added:
        return f"adds capabilities {added}; only NET_BIND_SERVICE may be added back"
    return None


def _check_resources(c: Container, w: Workload) -> Optional[str]:
    resources = as_dict(c.raw.get("resources"))
    missing = [
        f"{kind}.{res}"
        for kind in ("requests", "limits")
        for res in ("cpu", "memory")
        if as_dict(resources.get(kind)).get(res) in (None, "")
    ]
    if missing:
        return f"has no {', '.join('resources.' + m for m in missing)}"
    return None


def _check_seccomp(c: Container, w: Workload) -> Optional[str]:
    profile = _effective(c, w, "seccompProfile")
    if as_dict(profile).get("type") not in ("RuntimeDefault", "Localhost"):
        return "has no seccompProfile of type RuntimeDefault (pod or container securityContext)"
    return None


def _check_probes(c: Container, w: Workload) -> Optional[str]:
    if c.init or w.type not in K8S_LONG_RUNNING:
        return None
    missing = [p for p in ("readinessProbe", "livenessProbe") if not c.raw.get(p)]
    if missing:
        return f"has no {' or '.join(missing)}"
    return None


def validate_no_host_path(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == K8S_PERSISTENT_VOLUME:
        if dig(plain(args.props), "spec", "hostPath"):
            report(f"PersistentVolume {args.name} is a hostPath volume; use a StorageClass-backed volume.", None)
        return
    w = _k8s_containers(args)
    if w is None:
        return
    for vol in as_list(w.pod_spec.get("volumes")):
        if isinstance(vol, dict) and vol.get("hostPath"):
            path = dig(vol, "hostPath", "path")
            report(f"{w.describe()} mounts hostPath '{path}' (volume {vol.get('name')}); use a PVC, emptyDir, ConfigMap or Secret.", None)


def validate_no_host_namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    w = _k8s_containers(args)
    if w is None:
        return
    for key, what in (("hostNetwork", "network"), ("hostPID", "process"), ("hostIPC", "IPC")):
        if w.pod_spec.get(key) is True:
            report(f"{w.describe()} sets {key}: true and shares the node's {what} namespace.", None)


# -- Docker -----------------------------------------------------------------------------------
def _docker(args: ResourceValidationArgs) -> Optional[dict]:
    return plain(args.props) if args.resource_type == DOCKER_CONTAINER else None


def validate_docker_privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _docker(args)
    if props is None:
        return
    if props.get("privileged") is True:
        report(f"Container {props.get('name') or args.name} runs privileged; drop `privileged` and add only the capabilities it needs.", None)
    adds = [str(x).upper() for x in as_list(dig(props, "capabilities", "adds"))]
    if "ALL" in adds or "CAP_ALL" in adds:
        report(f"Container {props.get('name') or args.name} adds ALL capabilities, which is as good as privileged.", None)


def validate_docker_host_network(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _docker(args)
    if props is None:
        return
    name = props.get("name") or args.name
    if props.get("networkMode") == "host":
        report(f"Container {name} uses networkMode 'host'; attach it to the stack's network instead.", None)
    for net in as_list(props.get("networksAdvanced")):
        if isinstance(net, dict) and net.get("name") == "host":
            report(f"Container {name} joins the 'host' network; attach it to the stack's network instead.", None)


DEFAULT_PUBLISH_ADDRESSES = ["127.0.0.1"]


def validate_docker_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _docker(args)
    if props is None:
        return
    allowed = args.get_config().get("allowedPublishAddresses", DEFAULT_PUBLISH_ADDRESSES)
    allowed = [a for a in as_list(allowed) if isinstance(a, str)]
    name = props.get("name") or args.name
    for port in as_list(props.get("ports")):
        if not isinstance(port, dict):
            continue
        ip = port.get("ip")
        if ip is UNKNOWN:
            raise unknown_during_preview("ports.ip")
        ip = ip or "0.0.0.0"  # the provider's default
        if ip not in allowed:
            report(
                f"Container {name} publishes port {as_int(port.get('internal'))} on host address {ip} "
                f"(host port {as_int(port.get('external')) or 'random'}); bind it to one of {allowed} "
                "(agentstream:docker.publishAddress) or allow the address in allowedPublishAddresses.",
                None,
            )


def validate_docker_health(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _docker(args)
    if props is None or props.get("mustRun") is False:
        return  # one-shot containers (e.g. volume init) neither restart nor report health
    name = props.get("name") or args.name
    if not props.get("healthcheck"):
        report(f"Container {name} has no healthcheck; `pulumi up` cannot wait for it to be ready.", None)
    if props.get("restart") in (None, "", "no"):
        report(f"Container {name} has no restart policy; use unless-stopped or on-failure.", None)


# -- the stack view ------------------------------------------------------------------------------
@dataclass
class StackResource:
    urn: str
    type: str
    name: str
    props: dict
    parent: Optional[str]
    dependencies: list[str]


class Stack:
    """Every resource of the stack, indexed for the stack policies."""

    def __init__(self, resources: Iterable[Any]):
        self.resources: list[StackResource] = []
        for r in resources:
            parent = getattr(r, "parent", None)
            parent_urn = getattr(parent, "urn", None) if parent is not None else None
            if parent_urn is None:
                parent_urn = getattr(getattr(r, "opts", None), "parent", None)
            deps = [d.urn for d in getattr(r, "dependencies", []) or []]
            self.resources.append(StackResource(r.urn, r.resource_type, r.name, plain(r.props), parent_urn, deps))
        self.by_urn = {r.urn: r for r in self.resources}
        self.workloads: list[Workload] = []
        self.workload_by_urn: dict[str, Workload] = {}
        for r in self.resources:
            w = workload_of(r.type, r.urn, r.name, r.props)
            if w is not None:
                self.workloads.append(w)
                self.workload_by_urn[r.urn] = w
        # Registration order varies from run to run; reports should not.
        self.workloads.sort(key=lambda w: (w.name, w.urn))

    def of_type(self, type_: str) -> list[StackResource]:
        return [r for r in self.resources if r.type == type_]

    def ancestor(self, urn: str, type_: str) -> Optional[StackResource]:
        seen = set()
        current = self.by_urn.get(urn)
        while current is not None and current.parent and current.parent not in seen:
            seen.add(current.parent)
            current = self.by_urn.get(current.parent)
            if current is not None and current.type == type_:
                return current
        return None

    def group_key(self, urn: str) -> str:
        """The ReceiveCluster a resource belongs to (or the stack, for strays)."""
        cluster = self.ancestor(urn, RECEIVE_CLUSTER)
        return cluster.urn if cluster is not None else ""

    def group_name(self, key: str) -> str:
        return f"ReceiveCluster {self.by_urn[key].name}" if key in self.by_urn else "the stack"

    # Kubernetes objects by (namespace, name).
    def k8s_object(self, type_: str, namespace: str, name: Any) -> Optional[StackResource]:
        for r in self.of_type(type_):
            meta = as_dict(r.props.get("metadata"))
            if meta.get("name") == name and (meta.get("namespace") or "default") == namespace:
                return r
        return None

    def file_content(self, w: Workload, c: Container, path: str) -> Any:
        """Content of the file at ``path`` in container ``c``: str, UNKNOWN, or None (not ours)."""
        if w.target == "docker":
            for u in as_list(w.props.get("uploads")):
                if isinstance(u, dict) and u.get("file") == path:
                    return u.get("content")
            return None
        volumes = {v.get("name"): v for v in as_list(w.pod_spec.get("volumes")) if isinstance(v, dict)}
        for m in as_list(c.raw.get("volumeMounts")):
            if not isinstance(m, dict) or not isinstance(m.get("mountPath"), str):
                continue
            mount = m["mountPath"].rstrip("/")
            if m.get("subPath"):
                if mount != path:
                    continue
                key = m["subPath"]
            elif path.startswith(mount + "/"):
                key = path[len(mount) + 1:]
            else:
                continue
            return self._volume_key(w.namespace, volumes.get(m.get("name")), key, bool(m.get("subPath")))
        return None

    def _volume_key(self, namespace: str, volume: Any, key: str, sub_path: bool) -> Any:
        volume = as_dict(volume)
        sources = []
        if "configMap" in volume:
            sources.append(("configMap", volume["configMap"]))
        if "secret" in volume:
            sources.append(("secret", volume["secret"]))
        for s in as_list(dig(volume, "projected", "sources")):
            for kind in ("configMap", "secret"):
                if isinstance(s, dict) and kind in s:
                    sources.append((kind, s[kind]))
        for kind, src in sources:
            src = as_dict(src)
            lookup = key
            for item in as_list(src.get("items")):
                if isinstance(item, dict) and item.get("path") == key:
                    lookup = item.get("key")
            if kind == "configMap":
                obj = self.k8s_object(K8S_CONFIG_MAP, namespace, src.get("name"))
                if obj is not None:
                    data = obj.props.get("data")
                    if data is UNKNOWN:
                        return UNKNOWN
                    if lookup in as_dict(data):
                        return data[lookup]
            else:
                obj = self.k8s_object(K8S_SECRET, namespace, src.get("secretName"))
                if obj is not None:
                    string_data = obj.props.get("stringData")
                    if string_data is UNKNOWN:
                        return UNKNOWN
                    if lookup in as_dict(string_data):
                        return string_data[lookup]
                    data = obj.props.get("data")
                    if data is UNKNOWN:
                        return UNKNOWN
                    value = as_dict(data).get(lookup)
                    if isinstance(value, str):
                        try:
                            return base64.b64decode(value).decode("utf-8", "replace")
                        except ValueError:
                            return None
                    if value is UNKNOWN:
                        return UNKNOWN
        return None

    def instance_env(self, w: Workload, c: Container, instance: str) -> dict[str, Any]:
        env: dict[str, Any] = {}
        for var in c.env:
            if var.source == "value":
                env[var.name] = var.value if isinstance(var.value, str) else f"<{var.name}>"
            elif var.source in ("fieldRef:metadata.name", "fieldRef:metadata.uid"):
                env[var.name] = instance
            else:
                env[var.name] = f"<{var.name} from {var.source}>"  # same for every pod
        return env

    def replication_factor_for(self, w: Workload) -> int:
        """RF of the hashring a receive workload belongs to."""
        own = [rf for c in w.containers if (rf := receive_replication_factor(c)) is not None]
        if own:
            return max(own)
        group = self.group_key(w.urn)
        rfs = [
            rf
            for other in self.workloads
            if self.group_key(other.urn) == group
            for c in other.containers
            if (rf := receive_replication_factor(c)) is not None
        ]
        return max(rfs) if rfs else 1


def _k8s_expand(arg: str, env: Mapping[str, Any]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command and args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: str(env.get(m.group(1), m.group(0))), arg)


# -- stack policies --------------------------------------------------------------------------------
def validate_agent_labels(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    seen: dict[frozenset, tuple[str, str]] = {}
    for w in stack.workloads:
        for c in w.containers:
            if not c.is_prometheus_agent():
                continue
            path = (c.flag("--config.file") or ["/etc/prometheus/prometheus.yml"])[-1]
            text = stack.file_content(w, c, path)
            if text is UNKNOWN:
                raise unknown_during_preview(f"{w.describe()} {path}")
            doc = _parse_yaml(text)
            if not isinstance(doc, dict):
                continue  # the config is not part of this stack
            labels = as_dict(dig(doc, "global", "external_labels"))
            for instance in w.instance_names():
                env = stack.instance_env(w, c, instance)
                expanded = frozenset((str(k), expand_env(str(v), env)) for k, v in labels.items())
                where = f"{w.describe()} instance {instance}"
                if not expanded:
                    report(f"{where} has no external labels; give every agent cluster and replica labels.", w.urn)
                    continue
                if expanded in seen:
                    other_where, other_urn = seen[expanded]
                    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(expanded))
                    report(
                        f"{where} has the same external labels as {other_where} ({shown}); "
                        "their series collide in Receive and Query cannot tell them apart. Give each agent a "
                        "unique replica label (e.g. from ${INSTANCE}).",
                        w.urn,
                    )
                else:
                    seen[expanded] = (where, w.urn)


def _hashring_endpoints(text: Any) -> Optional[list[tuple[str, list[str]]]]:
    try:
        doc = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(doc, list):
        return None
    rings = []
    for i, ring in enumerate(doc):
        ring = as_dict(ring)
        endpoints = []
        for e in as_list(ring.get("endpoints")):
            if isinstance(e, str):
                endpoints.append(e)
            elif isinstance(e, dict) and isinstance(e.get("address"), str):
                endpoints.append(e["address"])
        rings.append((str(ring.get("hashring") or f"#{i}"), endpoints))
    return rings


def validate_hashring(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    served: dict[str, dict[str, str]] = defaultdict(dict)    # group -> endpoint -> instance
    rings: list[tuple[str, Workload, str, Any]] = []       # (group, workload, path, content)
    for w in stack.workloads:
        group = stack.group_key(w.urn)
        for c in w.containers:
            if c.thanos_subcommand() != "receive":
                continue
            for endpoint in c.flag("--receive.local-endpoint"):
                for instance in w.instance_names():
                    served[group][_k8s_expand(endpoint, stack.instance_env(w, c, instance))] = instance
            for path in c.flag("--receive.hashrings-file"):
                rings.append((group, w, path, stack.file_content(w, c, path)))
            for inline in c.flag("--receive.hashrings"):
                rings.append((group, w, "--receive.hashrings", inline))
    for group, w, path, content in rings:
        if content is UNKNOWN:
            raise unknown_during_preview(f"{w.describe()} {path}")
        if content is None:
            continue  # not managed by this stack
        parsed = _hashring_endpoints(content)
        if parsed is None:
            report(f"{w.describe()}: {path} is not a valid hashring file (a JSON array of hashrings).", w.urn)
            continue
        known = served.get(group, {})
        for ring, endpoints in parsed:
            if not endpoints:
                report(f"{w.describe()}: hashring '{ring}' in {path} lists no receivers.", w.urn)
            for endpoint in endpoints:
                if endpoint not in known:
                    listed = ", ".join(sorted(known)) or "none"
                    report(
                        f"{w.describe()}: hashring '{ring}' in {path} lists '{endpoint}', but no receiver in "
                        f"{stack.group_name(group)} serves that endpoint (--receive.local-endpoint of its "
                        f"receivers: {listed}); writes routed there fail.",
                        w.urn,
                    )


_BUCKET_KEYS = ("bucket", "container", "container_name", "endpoint", "storage_account", "project_id", "directory", "name")


def bucket_identity(text: Any, w: Workload, c: Container) -> Optional[tuple]:
    doc = _parse_yaml(text)
    if not isinstance(doc, dict):
        return None
    kind = str(doc.get("type", "")).upper()
    config = as_dict(doc.get("config"))
    ident = [kind, str(doc.get("prefix") or "")]
    for key in _BUCKET_KEYS:
        value = config.get(key)
        if isinstance(value, str):
            value = re.sub(r"^https?://", "", value.strip().lower()).rstrip("/")
        ident.append((key, value))
    if kind == "FILESYSTEM":
        directory = str(config.get("directory") or "")
        if w.target == "docker":
            for v in as_list(w.props.get("volumes")):
                if isinstance(v, dict) and directory.startswith(str(v.get("containerPath") or "\0")):
                    ident.append(("volume", v.get("volumeName") or v.get("hostPath")))
        else:
            ident.append(("pod", w.urn))  # per-pod volumes: a bucket per workload
    return tuple(ident)


def validate_one_compactor(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    compactors: dict[tuple, list[tuple[Workload, int]]] = defaultdict(list)
    for w in stack.workloads:
        for c in w.containers:
            if c.thanos_subcommand() != "compact":
                continue
            count = w.replicas if w.replicas is not None else 2  # DaemonSet: one per node
            if count <= 0:
                continue
            inline = c.flag("--objstore.config")
            files = c.flag("--objstore.config-file")
            text = inline[-1] if inline else (stack.file_content(w, c, files[-1]) if files else None)
            ident = bucket_identity(text, w, c) if text not in (None, UNKNOWN) else None
            if ident is None:
                # Not known during a first preview (generated credentials): the
                # compactors of one ReceiveCluster share its bucket.
                ident = ("same ReceiveCluster", stack.group_key(w.urn) or w.urn)
            compactors[ident].append((w, count))
    for ident, found in compactors.items():
        total = sum(n for _, n in found)
        if total <= 1:
            continue
        names = ", ".join(f"{w.describe()} ({'one per node' if w.replicas is None else n})" for w, n in found)
        bucket = next((v for k, v in ident[2:] if k in ("bucket", "container", "directory") and v), None) if ident[0] != "same ReceiveCluster" else None
        target = f"bucket '{bucket}'" if bucket else "the same bucket"
        for w, _ in found:
            report(
                f"{total} compactor instances run against {target}: {names}. Thanos Compact must be a "
                "singleton per bucket, or concurrent compactions corrupt the block view.",
                w.urn,
            )


# -- the policies -----------------------------------------------------------------------------------
def _stack_exemptions_schema(key: str, description: str, default: list[str]) -> PolicyConfigSchema:
    """Config schema of one "these stacks are exempt" setting (a list, or true/false)."""
    return PolicyConfigSchema(
        properties={key: {"description": description, "type": ["boolean", "array"], "items": {"type": "string"}, "default": default}}
    )


_RF_SCHEMA = _stack_exemptions_schema(
    "allowReplicationFactorOne",
    "Stacks allowed to run Receive with replication factor 1 (true: every stack).",
    DEFAULT_ALLOW_RF1,
)

POLICIES = [
    # Everywhere
    ResourceValidationPolicy(
        name="images-pinned",
        description="Images are pinned to a version tag or a digest: no 'latest', nothing untagged.",
        validate=validate_images_pinned,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="receive-replication-factor",
        description="Thanos Receive runs with replication factor 2 or more, except in stacks the config allows RF=1.",
        validate=validate_receive_replication_factor,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        config_schema=_RF_SCHEMA,
    ),
    StackValidationPolicy(
        name="receive-pod-disruption-budget",
        description="On Kubernetes, Thanos Receive has a PodDisruptionBudget allowing at most floor(RF/2) receivers down.",
        validate=validate_receive_pdb,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        config_schema=_RF_SCHEMA,
    ),
    ResourceValidationPolicy(
        name="objstore-credentials-as-secrets",
        description="Object-store credentials appear only as secrets: no plain-text secret-like env values, none on a command line, none in ConfigMaps.",
        validate=validate_credentials_as_secrets,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
    ),
    ResourceValidationPolicy(
        name="receive-write-limits",
        description="Thanos Receive routers load write limits, except in stacks the config exempts.",
        validate=validate_receive_write_limits,
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.MEDIUM,
        config_schema=_stack_exemptions_schema(
            "allowUnlimitedWrites",
            "Stacks whose receivers may take remote write without limits (true: every stack).",
            DEFAULT_ALLOW_UNLIMITED_WRITES,
        ),
    ),
    StackValidationPolicy(
        name="agent-external-labels-unique",
        description="Every Prometheus agent instance has a unique set of external labels.",
        validate=validate_agent_labels,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="remote-write-secure-target",
        description="Remote write targets https, or an in-cluster or in-network address.",
        validate=validate_remote_write,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(
            properties={
                "allowedHttpHosts": {
                    "description": "Extra hosts (or '.suffix' domains) agents may write to over plain http.",
                    "type": "array",
                    "items": {"type": "string"},
                    "default": [],
                }
            }
        ),
    ),
    # Kubernetes
    ResourceValidationPolicy(
        name="k8s-run-as-non-root",
        description="Pods run as non-root (runAsNonRoot: true, never UID 0).",
        validate=_k8s_container_check(_check_non_root),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="k8s-read-only-root-filesystem",
        description="Containers have a read-only root filesystem.",
        validate=_k8s_container_check(_check_read_only_root),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
    ),
    ResourceValidationPolicy(
        name="k8s-no-privilege-escalation",
        description="Containers are not privileged and set allowPrivilegeEscalation: false.",
        validate=_k8s_container_check(_check_no_escalation),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="k8s-drop-all-capabilities",
        description="Containers drop ALL capabilities (adding back at most NET_BIND_SERVICE).",
        validate=_k8s_container_check(_check_drop_all),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
    ),
    ResourceValidationPolicy(
        name="k8s-resource-requests-limits",
        description="Containers set cpu and memory requests and limits.",
        validate=_k8s_container_check(_check_resources),
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
    ),
    ResourceValidationPolicy(
        name="k8s-no-host-path",
        description="No hostPath volumes.",
        validate=validate_no_host_path,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="k8s-no-host-namespaces",
        description="Pods do not share the node's network, PID or IPC namespace (hostNetwork, hostPID, hostIPC).",
        validate=validate_no_host_namespaces,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="k8s-seccomp-runtime-default",
        description="Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
        validate=_k8s_container_check(_check_seccomp),
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
    ),
    ResourceValidationPolicy(
        name="k8s-health-probes",
        description="Long-running containers have readiness and liveness probes.",
        validate=_k8s_container_check(_check_probes),
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
    ),
    # Docker
    ResourceValidationPolicy(
        name="docker-no-privileged",
        description="Docker containers are not privileged.",
        validate=validate_docker_privileged,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
    ),
    ResourceValidationPolicy(
        name="docker-no-host-network",
        description="Docker containers do not use the host network.",
        validate=validate_docker_host_network,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="docker-ports-localhost",
        description="Published Docker ports bind to 127.0.0.1 unless the config allows other addresses.",
        validate=validate_docker_ports,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(
            properties={
                "allowedPublishAddresses": {
                    "description": "Host addresses published ports may bind to.",
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_PUBLISH_ADDRESSES,
                }
            }
        ),
    ),
    ResourceValidationPolicy(
        name="docker-healthcheck-and-restart",
        description="Long-running Docker containers have a healthcheck and a restart policy.",
        validate=validate_docker_health,
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
    ),
    # Stack-level
    StackValidationPolicy(
        name="one-compactor-per-bucket",
        description="Exactly one Thanos Compact instance runs per bucket.",
        validate=validate_one_compactor,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
    ),
    StackValidationPolicy(
        name="hashring-receivers-exist",
        description="Every ReceiveCluster's hashring lists only receivers that exist.",
        validate=validate_hashring,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
]


def pack_kwargs() -> dict[str, Any]:
    """Arguments for ``PolicyPack`` (used by ``__main__.py`` and the tests)."""
    return {
        "name": PACK_NAME,
        "description": PACK_DESCRIPTION,
        "policies": POLICIES,
        "enforcement_level": EnforcementLevel.MANDATORY,
    }
