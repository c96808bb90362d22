"""The components as a Pulumi package, for programs in other languages.

``provider/`` serves the classes of this module with ``component_provider_host``
(``pulumi.provider.experimental``), so a YAML, TypeScript, Go, C# or Java
program can declare them. The host infers the package schema from each
class's ``__init__(name, args, opts)`` annotations: a TypedDict ``args``
whose keys may be plain types, ``pulumi.Input``/``Output``, lists and
string-keyed dicts of those, nested TypedDicts, and references to resources
whose class has a ``pulumi_type``. Outputs are the class's annotated
attributes. Three things of the Python API do not map onto that directly;
this module bridges them and leaves the Python API as it is:

* **Dependencies are component instances.** In Python a ReceiveCluster gets
  the ObjectStore object, with its workloads, volumes and settings. Another
  language can only pass a resource reference (a URN). The SDK turns a
  reference back into an object through a registered ``ResourceModule``; ours
  (``register_references``) returns the live instance that this provider
  process built earlier in the same deployment: one provider process serves
  every Construct call of a deployment, and the program registers the
  ObjectStore before the ReceiveCluster that names it. A reference to a
  component built anywhere else (another stack, an earlier run) carries none
  of that Python state, so it is refused with a message saying so.
* **A target is "a DockerTarget or a KubernetesTarget"**, and the inferred
  schema has no union types. Other languages declare one ``Target``
  component with either ``docker`` or ``kubernetes`` args (the TypedDicts of
  the Python targets); it builds that target as its child, and the served
  components hand the child to the Python ones.
* **Annotations are read at run time.** A module with postponed annotations
  (``from __future__ import annotations``, e.g. the targets) holds strings
  there, which the analyzer cannot read. ``_servable`` copies a TypedDict with
  its annotations evaluated (and the dependency keys retyped to the served
  classes); the copy keeps the original's name, module and qualified name, so
  the analyzer still finds the key docstrings, the schema's descriptions, in
  the original source.
"""

import functools
import json
import sys
import typing
from collections.abc import Mapping
from importlib import resources
from typing import Any, Callable, ForwardRef, Optional, TypedDict, TypeVar

import pulumi
from typing_extensions import Required

from . import agent_fleet, alerting, object_store, receive_cluster, self_monitoring
from .targets import DockerTarget, DockerTargetArgs, KubernetesTarget, KubernetesTargetArgs
from .targets.docker import validate_docker_args
from .targets.kubernetes import validate_kubernetes_args
from .validation import check_args, check_instance

PACKAGE = "agentstream"
# Name and version of the package, as the schema's references to its own
# resources spell them (``/agentstream/v<version>/schema.json#/resources/...``).
PLUGIN = json.loads(resources.files(__package__).joinpath("pulumi-plugin.json").read_text())
VERSION: str = PLUGIN["version"]

# URN -> a component this process built, for resource references.
_LIVE: dict[str, pulumi.Resource] = {}


def _remember(component: pulumi.Resource) -> None:
    component.urn.apply(lambda urn: _LIVE.__setitem__(urn, component))


class _LiveComponents(pulumi.runtime.ResourceModule):
    """Resolves a resource reference to ``agentstream:index:*`` to the live component."""

    def version(self) -> None:
        return None

    def construct(self, name: str, typ: str, urn: str) -> pulumi.Resource:
        try:
            return _LIVE[urn]
        except KeyError:
            raise ValueError(
                f"{typ} {name!r}: this provider did not build it in this deployment, so it cannot use it; "
                "allowed: a Target, ObjectStore, ReceiveCluster, AgentFleet or Alerting declared in the same program"
            ) from None


_registered = False


def register_references() -> None:
    """Let resource references to agentstream components resolve (provider process only)."""
    global _registered
    if not _registered:
        pulumi.runtime.register_resource_module(PACKAGE, "index", _LiveComponents())
        _registered = True


# -- schema-ready TypedDicts ------------------------------------------------------------------
def _evaluated(td: type, annotation: Any) -> Any:
    if isinstance(annotation, ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(sys.modules[td.__module__]))  # noqa: S307 - our own annotations
    return _servable_type(annotation)


def _servable_type(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if typing.is_typeddict(annotation):
        return _servable(annotation)
    if origin is Required:
        return Required[_servable_type(typing.get_args(annotation)[0])]
    if origin in (list, dict):
        return origin[tuple(_servable_type(a) for a in typing.get_args(annotation))]
    return annotation


def _copy(td: type, fields: dict[str, Any]) -> type:
    # typing's TypedDict: the analyzer finds optional keys through typing.is_typeddict,
    # which is False for typing_extensions' own class.
    # mypy reads a TypedDict() call as a class definition and wants a literal
    # name and fields; this one is built at run time.
    copy = TypedDict(td.__name__, fields, total=False)  # type: ignore[misc]
    copy.__module__, copy.__qualname__, copy.__doc__ = td.__module__, td.__qualname__, td.__doc__
    return copy


@functools.cache
def _servable(td: type) -> type:
    """``td`` with every annotation evaluated, nested TypedDicts likewise."""
    return _copy(td, {k: _evaluated(td, v) for k, v in td.__annotations__.items()})


def _served_args(td: type, **dependencies: type) -> type:
    """A component's args as served: ``td`` with its dependency keys retyped to served classes."""
    fields = dict(_servable(td).__annotations__)
    for key, served in dependencies.items():
        fields[key] = Required[served] if typing.get_origin(fields[key]) is Required else served
    return _copy(td, fields)


def _python_args(td: type, args: Any) -> Any:
    """Args as the Python component takes them: whole numbers back to ints, and
    the served Target replaced by the target it built."""
    args = _whole_numbers(td, args)
    if not isinstance(args, Mapping) or args.get("target") is None:
        return args  # the component refuses it, or reports the target missing
    target = check_instance(f"{td.__name__}.target", args["target"], Target, "an agentstream:index:Target resource")
    return {**args, "target": target.target}


def _whole_numbers(annotation: Any, value: Any) -> Any:
    """``value`` with a whole float turned into an int wherever ``annotation`` says int.

    Numbers cross the wire as floats; the SDK's input mapping (pulumi 3.272,
    ComponentProvider.map_input_properties) means to convert integer
    properties but keeps the float, so ``replicas: 2`` would arrive as 2.0.
    Anything else stays as it is, for the components' own checks.
    """
    if typing.get_origin(annotation) is Required:
        annotation = typing.get_args(annotation)[0]
    if annotation is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if typing.is_typeddict(annotation) and isinstance(value, Mapping):
        keys = annotation.__annotations__
        return {k: _whole_numbers(keys[k], v) if k in keys else v for k, v in value.items()}
    if typing.get_origin(annotation) is dict and isinstance(value, Mapping):
        return {k: _whole_numbers(typing.get_args(annotation)[1], v) for k, v in value.items()}
    if typing.get_origin(annotation) is list and isinstance(value, list):
        return [_whole_numbers(typing.get_args(annotation)[0], v) for v in value]
    return value


# -- the served components ---------------------------------------------------------------------
TARGET_KINDS = ("docker", "kubernetes")


class TargetArgs(TypedDict, total=False):
    docker: DockerTargetArgs
    """Run on a Docker host; ``{}`` takes every default."""
    kubernetes: KubernetesTargetArgs
    """Run in a Kubernetes cluster; ``{}`` takes every default."""


# The targets' args hold postponed annotations; the analyzer needs them
# evaluated. For mypy, TargetArgs stays the class above (the same keys).
TargetArgs = _servable(TargetArgs)  # type: ignore[assignment, misc]


class Target(pulumi.ComponentResource):
    """Where the components run: a Docker host or a Kubernetes cluster.

    Give exactly one of ``docker`` and ``kubernetes``; pass the Target as
    the ``target`` of an ObjectStore, ReceiveCluster or AgentFleet.
    """

    pulumi_type = f"{PACKAGE}:index:Target"

    kind: str
    """``docker`` or ``kubernetes``."""

    def __init__(self, name: str, args: TargetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        a = check_args("TargetArgs", _whole_numbers(TargetArgs, args), TargetArgs.__annotations__)
        kinds = [k for k in TARGET_KINDS if k in a]
        if len(kinds) != 1:
            raise ValueError(
                f"TargetArgs: {' and '.join(kinds) if kinds else 'neither docker nor kubernetes'} given; "
                "allowed: exactly one of docker, kubernetes"
            )
        self.kind = kinds[0]
        # Engine input, not yet checked: the target's own validation checks it.
        settings: Any = a[self.kind] or {}
        # Checked before anything registers, as the Python targets do.
        (validate_docker_args if self.kind == "docker" else validate_kubernetes_args)(settings)
        super().__init__(self.pulumi_type, name, None, opts)
        cls = DockerTarget if self.kind == "docker" else KubernetesTarget
        self.target = cls(name, settings, pulumi.ResourceOptions(parent=self))
        _remember(self)
        self.register_outputs({"kind": self.kind})


C = TypeVar("C", bound=pulumi.ComponentResource)


def _served(component: type[C], args_type: type) -> type[C]:
    """``component`` as served: a subclass whose ``__init__`` is annotated with
    ``args_type`` (what the analyzer reads), maps the engine's inputs back with
    ``_python_args``, and leaves the instance for references to resolve to.

    It keeps the Python class's name (the type token's last part), module and
    qualified name, so the analyzer finds the output docstrings in its source.
    """

    def __init__(self: C, name: str, args: Any, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # The components' own (name, args, opts), not ComponentResource's (t, name, props, opts).
        init: Callable[..., None] = component.__init__
        init(self, name, _python_args(args_type, args), opts)
        _remember(self)

    __init__.__annotations__ = {"name": str, "args": args_type, "opts": Optional[pulumi.ResourceOptions], "return": None}
    namespace = {
        "__init__": __init__,
        "__doc__": component.__doc__,
        "__module__": component.__module__,
        "__qualname__": component.__qualname__,
        "pulumi_type": f"{PACKAGE}:index:{component.__name__}",
    }
    return type(component.__name__, (component,), namespace)


ObjectStoreArgs = _served_args(object_store.ObjectStoreArgs, target=Target)
ObjectStore = _served(object_store.ObjectStore, ObjectStoreArgs)
ReceiveClusterArgs = _served_args(receive_cluster.ReceiveClusterArgs, target=Target, object_store=ObjectStore)
ReceiveCluster = _served(receive_cluster.ReceiveCluster, ReceiveClusterArgs)
AgentFleetArgs = _served_args(agent_fleet.AgentFleetArgs, target=Target, receive=ReceiveCluster)
AgentFleet = _served(agent_fleet.AgentFleet, AgentFleetArgs)

# Rule files as YAML text: a mapping's values (Any) have no schema type.
AlertingArgs = _served_args(
    alerting.AlertingArgs, target=Target, receive=ReceiveCluster, object_store=ObjectStore, rule_files=dict[str, str]
)
Alerting = _served(alerting.Alerting, AlertingArgs)

SelfMonitoringArgs = _served_args(
    self_monitoring.SelfMonitoringArgs,
    target=Target, receive=ReceiveCluster, object_store=ObjectStore, alerting=Alerting,
    # A run-time class in a type expression, which mypy does not follow.
    fleets=list[AgentFleet],  # type: ignore[valid-type]
)
SelfMonitoring = _served(self_monitoring.SelfMonitoring, SelfMonitoringArgs)

COMPONENTS: list[type[pulumi.ComponentResource]] = [
    Target, ObjectStore, ReceiveCluster, AgentFleet, Alerting, SelfMonitoring,
]
