"""Run components directly (not through the stack program) under mocks.

``run_on(kind, build)`` creates a target of ``kind`` ("docker" or
"kubernetes") and calls ``build(target)`` inside a mocked Pulumi program;
``build`` constructs components and ``pulumi.export``s what the test wants
to read back from ``run.outputs``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import agentstream as a

from .stack_runner import StackRun, run_program

TARGET_KINDS = ("docker", "kubernetes")
K8S_NAMESPACE = "obs"


def make_target(kind: str, args: Optional[dict[str, Any]] = None) -> a.Target:
    if kind == "docker":
        return a.DockerTarget("docker", {"network": "unit-net", **(args or {})})
    if kind == "kubernetes":
        return a.KubernetesTarget("kubernetes", {"namespace": K8S_NAMESPACE, **(args or {})})
    raise ValueError(kind)


def run_on(kind: str, build: Callable[[a.Target], Any], target_args: Optional[dict[str, Any]] = None) -> StackRun:
    return run_program(lambda: build(make_target(kind, target_args)), stack=f"unit-{kind}")
