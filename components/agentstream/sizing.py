"""Sizing and placement args shared by every component: requests and limits
(both targets), scheduling and storage class (Kubernetes only).

Each component keeps its own defaults (``DEFAULT_RESOURCES`` at the top of
its module); the checks here merge the given keys over them, so a key given
overrides only itself.
"""

# No postponed annotations: see object_store.py.
import dataclasses
from collections.abc import Mapping
from typing import Any, Optional, TypedDict

from .quantity import quantity
from .settings import frozen_map, thaw
from .spec import Resources, Scheduling
from .validation import check_cpu, check_int, check_keys, check_list, check_object_name, check_size


class ResourceAmounts(TypedDict, total=False):
    """Kubernetes quantities; unset keys keep the component's defaults."""

    cpu: str
    """CPUs, e.g. ``250m``, ``0.5``, ``2``."""
    memory: str
    """Bytes, e.g. ``512Mi``, ``2Gi``."""


class ResourcesArgs(TypedDict, total=False):
    """Requests and limits of one workload (Kubernetes container resources; Docker memory/cpus)."""

    requests: ResourceAmounts
    """What the scheduler reserves (Docker: memory reservation and CPU shares)."""
    limits: ResourceAmounts
    """The most it may use (Docker: memory and cpus)."""


class SchedulingArgs(TypedDict, total=False):
    """Where the pods may run (Kubernetes only): raw Kubernetes objects, camelCase inside, as in a pod spec."""

    node_selector: dict[str, str]
    """Pod ``nodeSelector``: node label to value."""
    tolerations: list[dict[str, Any]]
    """Pod ``tolerations``."""
    affinity: dict[str, Any]
    """Pod ``affinity`` (``nodeAffinity``, ``podAffinity``, ``podAntiAffinity``)."""
    topology_spread_constraints: list[dict[str, Any]]
    """Pod ``topologySpreadConstraints`` (receivers' default: a soft spread across zones; ``[]`` for none)."""
    priority_class_name: str
    """Pod ``priorityClassName``."""


RESOURCES_KEYS = tuple(ResourcesArgs.__annotations__)
AMOUNT_KEYS = tuple(ResourceAmounts.__annotations__)
SCHEDULING_KEYS = tuple(SchedulingArgs.__annotations__)
# The Kubernetes objects' own keys (PodSpec, Affinity, Toleration,
# TopologySpreadConstraint), so a typo fails here rather than at the API server.
AFFINITY_KEYS = ("nodeAffinity", "podAffinity", "podAntiAffinity")
TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
SPREAD_KEYS = (
    "maxSkew", "topologyKey", "whenUnsatisfiable", "labelSelector", "minDomains",
    "nodeAffinityPolicy", "nodeTaintsPolicy", "matchLabelKeys",
)
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")
ZONE_KEY = "topology.kubernetes.io/zone"


def camel(key: str) -> str:
    """The stack-config spelling of an arg name, for messages (query_frontend -> queryFrontend)."""
    head, *rest = key.split("_")
    # Not str.title(): bucket_retention_5m -> bucketRetention5m, not ...5M.
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def stack_keys(args_type: type, *, omit: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Stack-config key -> arg name for an args TypedDict: every field but
    ``omit`` (dependencies, images set elsewhere), spelled by ``camel``, after
    the stack-only ``extra`` keys. Derived, so a new arg is a new stack key."""
    fields = [*extra, *(k for k in args_type.__annotations__ if k not in omit)]
    return {camel(k): k for k in fields}


def validate_resources(field: str, value: object, default: Resources) -> Resources:
    """``default`` with the given requests/limits over it; each request at most its limit.

    A limit given alone below the default request lowers that request to it
    (as Kubernetes does for a limit without a request)."""
    if value is None:
        return default
    r = check_keys(field, value, RESOURCES_KEYS)
    requests = check_keys(f"{field}.requests", r.get("requests", {}), AMOUNT_KEYS)
    limits = check_keys(f"{field}.limits", r.get("limits", {}), AMOUNT_KEYS)
    out: dict[str, str] = {}
    for kind, check in (("cpu", check_cpu), ("memory", check_size)):
        limit = check(f"{field}.limits.{kind}", _number_as_string(limits.get(kind, getattr(default, f"{kind}_limit"))))
        if kind in requests:
            request = check(f"{field}.requests.{kind}", _number_as_string(requests[kind]))
            if quantity(request) > quantity(limit):
                raise ValueError(
                    f"{field}.requests.{kind}: {request} is above its limit ({limit}); allowed: a request at most "
                    f"{field}.limits.{kind} (Kubernetes refuses the pod otherwise)"
                )
        else:
            request = getattr(default, f"{kind}_request")
            if quantity(request) > quantity(limit):
                request = limit
        out[f"{kind}_request"], out[f"{kind}_limit"] = request, limit
    return dataclasses.replace(default, **out)


def validate_scheduling(field: str, value: object, target_kind: Optional[str]) -> Mapping[str, Any]:
    """The checked scheduling keys (snake_case), read-only, or raise; none are
    allowed on Docker."""
    if value is None:
        return frozen_map({})
    s = dict(check_keys(field, value, SCHEDULING_KEYS))
    if s and target_kind == "docker":
        raise no_effect_on_docker(f"{field}.{camel(next(iter(s)))}")
    if "node_selector" in s:
        _check_string_map(f"{field}.nodeSelector", s["node_selector"])
    for i, t in enumerate(check_list(f"{field}.tolerations", s.get("tolerations", []))):
        t = check_keys(f"{field}.tolerations[{i}]", t, TOLERATION_KEYS)
        _check_choice_key(f"{field}.tolerations[{i}]", t, "operator", TOLERATION_OPERATORS)
        _check_choice_key(f"{field}.tolerations[{i}]", t, "effect", TOLERATION_EFFECTS)
        if t.get("operator") == "Exists" and t.get("value"):
            raise ValueError(f"{field}.tolerations[{i}].value: must be empty with operator Exists; allowed: remove it")
        for key in ("key", "value"):
            if key in t and not isinstance(t[key], str):
                raise ValueError(f"{field}.tolerations[{i}].{key}: {t[key]!r}; allowed: a string (quote it)")
        if "tolerationSeconds" in t:
            check_int(f"{field}.tolerations[{i}].tolerationSeconds", t["tolerationSeconds"], 0)
    if "affinity" in s:
        affinity = check_keys(f"{field}.affinity", s["affinity"], AFFINITY_KEYS)
        for key, v in affinity.items():
            if not isinstance(v, dict):
                raise ValueError(f"{field}.affinity.{key}: must be a mapping (a Kubernetes {key[0].upper()}{key[1:]})")
    for i, c in enumerate(check_list(f"{field}.topologySpreadConstraints", s.get("topology_spread_constraints", []))):
        c = check_keys(f"{field}.topologySpreadConstraints[{i}]", c, SPREAD_KEYS)
        check_int(f"{field}.topologySpreadConstraints[{i}].maxSkew", c.get("maxSkew"), 1)
        topology_key = c.get("topologyKey")
        if not isinstance(topology_key, str) or not topology_key:
            raise ValueError(
                f"{field}.topologySpreadConstraints[{i}].topologyKey: {topology_key!r}; allowed: a node label key, e.g. {ZONE_KEY}"
            )
        if c.get("whenUnsatisfiable") not in WHEN_UNSATISFIABLE:
            raise ValueError(
                f"{field}.topologySpreadConstraints[{i}].whenUnsatisfiable: {c.get('whenUnsatisfiable')!r} is not "
                f"allowed; allowed values: {', '.join(WHEN_UNSATISFIABLE)}"
            )
        if "labelSelector" in c and not isinstance(c["labelSelector"], dict):
            raise ValueError(f"{field}.topologySpreadConstraints[{i}].labelSelector: must be a mapping (a LabelSelector)")
    if "priority_class_name" in s:
        check_object_name(f"{field}.priorityClassName", s["priority_class_name"])
    return frozen_map(s)


def validate_storage_class(field: str, value: object, target_kind: Optional[str]) -> Optional[str]:
    """None (the target's class), "" (no class: pre-provisioned volumes) or a StorageClass name."""
    if value is None:
        return None
    if target_kind == "docker":
        raise no_effect_on_docker(field)
    return "" if value == "" else check_object_name(field, value)


def scheduling(checked: Mapping[str, Any], spread_zones: bool = False) -> Scheduling:
    """The neutral :class:`Scheduling` of checked scheduling args (a frozen
    settings mapping too: thawed, since the targets hand its raw Kubernetes
    objects to serializers that know plain dicts and lists)."""
    return Scheduling(**thaw(checked), spread_zones=spread_zones)


def no_effect_on_docker(field: str) -> ValueError:
    return ValueError(f"{field}: has no effect on the docker target; allowed: remove it")


def _number_as_string(value: object) -> object:
    """YAML reads ``cpu: 2`` as a number; Kubernetes takes it as the quantity "2"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _check_string_map(field: str, value: object) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be a mapping of string to string, got {value!r}")
    for k, v in value.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise ValueError(f"{field}.{k}: {v!r}; allowed: a string key and a string value (quote numbers and booleans)")


def _check_choice_key(field: str, value: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    if key in value and value[key] not in allowed:
        raise ValueError(f"{field}.{key}: {value[key]!r} is not allowed; allowed values: {', '.join(allowed)}")
