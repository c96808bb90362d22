"""Targets render the neutral :mod:`agentstream.spec` into provider resources.

A component asks its target two kinds of question:

* *where*: the DNS name of a workload or of one instance, so it can write
  addresses into config files (``service_host``, ``instance_host``);
* *how*: ``deploy(workload, parent)`` creates the resources that run it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi

from ..spec import Workload
from ..validation import check_args, pop_dependency


@dataclass
class Deployed:
    """What a target created for one workload."""

    workload: Workload
    # Everything, ready included: a dependent on these starts once the
    # workload answers (Docker: each container's health gate; Kubernetes:
    # the StatefulSets, which the provider awaits).
    resources: list[pulumi.Resource] = field(default_factory=list)
    # An order only: a workload that writes to this one starts after these
    # exist and, on destroy, stops before they do, without waiting for a
    # health check (Docker: the instance containers, not their health gates,
    # volume owners and live-file writers; Kubernetes, which has no such
    # helpers: all of them).
    servers: list[pulumi.Resource] = field(default_factory=list)
    # Addresses a person or a remote edge uses, keyed by port name
    # (e.g. {"http": "http://127.0.0.1:10902"}); in-network otherwise.
    urls: dict[str, str] = field(default_factory=dict)


class Target(pulumi.ComponentResource, abc.ABC):
    """Base of DockerTarget and KubernetesTarget."""

    kind: str = ""

    @abc.abstractmethod
    def service_host(self, workload_name: str) -> str:
        """DNS name that reaches any instance of a workload."""

    @abc.abstractmethod
    def instance_host(self, workload_name: str, instance: str) -> str:
        """DNS name of one instance (stable across restarts)."""

    def instance_host_template(self, workload_name: str) -> str:
        """``instance_host`` with the instance name left as ``$(INSTANCE)``."""
        from ..spec import INSTANCE_ARG

        return self.instance_host(workload_name, INSTANCE_ARG)

    @abc.abstractmethod
    def deploy(
        self, workload: Workload, parent: pulumi.Resource, depends_on: Optional[list[pulumi.Resource]] = None
    ) -> Deployed:
        """Create the resources that run ``workload`` as children of ``parent``."""


def split_args(args_type: type, args: object) -> "tuple[dict[str, Any], Target]":
    """A component's args as (the rest, the target): a mapping of known keys
    (``TypeError``/``ValueError`` otherwise), with its required ``target``
    taken out and checked to be a target."""
    a = check_args(args_type.__name__, args, args_type.__annotations__)
    # mypy takes only concrete classes for type[T] (python/mypy#4717); an
    # isinstance check against the abstract base is what is wanted here.
    target = pop_dependency(
        args_type.__name__, a, "target", Target, "a DockerTarget or KubernetesTarget"  # type: ignore[type-abstract]
    )
    return a, target


from .docker import DockerTarget, DockerTargetArgs  # noqa: E402
from .kubernetes import KubernetesTarget, KubernetesTargetArgs  # noqa: E402

__all__ = ["Deployed", "DockerTarget", "DockerTargetArgs", "KubernetesTarget", "KubernetesTargetArgs", "Target", "split_args"]
