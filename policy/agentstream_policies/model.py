"""What the engine sends, read as plain values, and a target-neutral view of it.

How the engine hands resources to a pack: ``Analyze`` gets each resource's
*inputs* before it is created or updated (resource policies), ``AnalyzeStack``
gets every resource's *outputs* at the end of the run (stack policies). Both
arrive as plain values: pulumi_policy unwraps secrets before a policy sees
them, so no policy here can tell a Pulumi secret from a plain string. During
``pulumi preview`` of a fresh stack, values computed by providers (random
credentials, image ids, anything derived from them) are *unknown*. Policies
read resources through :func:`plain`, which turns unknowns into
:data:`UNKNOWN`; where a check cannot be decided without the value, the policy
raises pulumi_policy's ``UnknownValueError`` (:func:`unknown_during_preview`)
so the engine reports the standard advisory "can't run policy ... during
preview" instead of a false pass or a false violation.

On top of that: :class:`Workload` and :class:`Container` (a Docker container
or a pod-bearing Kubernetes object, whichever target made it) and
:class:`Stack` (every resource of the stack, indexed for stack policies).
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import yaml
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

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


def parse_yaml(text: Any) -> Any:
    """A config file's YAML as data; None if it is not text or does not parse."""
    if not isinstance(text, str):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


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
        if name is UNKNOWN:
            # An auto-named ConfigMap/Secret whose name is not known yet.
            raise unknown_during_preview(f"the name of a {type_.rsplit(':', 1)[-1]}")
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
            return self._docker_volume_file(w, path)
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

    def _docker_volume_file(self, w: Workload, path: str) -> Any:
        """A file that reaches a Docker container on a named volume (a live file,
        which changes in place): the container that writes the volume carries
        it as an upload at the very path the readers see."""
        for v in as_list(w.props.get("volumes")):
            if not isinstance(v, dict) or not isinstance(v.get("containerPath"), str):
                continue
            if not path.startswith(v["containerPath"].rstrip("/") + "/"):
                continue
            volume = v.get("volumeName")
            if volume is UNKNOWN:
                return UNKNOWN
            for r in self.of_type(DOCKER_CONTAINER):
                if r.urn == w.urn or not any(
                    isinstance(m, dict) and m.get("volumeName") == volume for m in as_list(r.props.get("volumes"))
                ):
                    continue
                for u in as_list(r.props.get("uploads")):
                    if isinstance(u, dict) and u.get("file") == path:
                        return u.get("content")
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
