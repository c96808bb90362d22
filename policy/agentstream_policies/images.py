"""images-pinned: every image a stack runs is pinned.

The rule itself is :func:`pinning.image_problem`, the same function the
agentstream components validate their args with (``pinning.py`` is a symlink
to ``components/agentstream/pinning.py``).
"""

from __future__ import annotations

from typing import Any, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from . import pinning
from .model import DOCKER_IMAGE, DOCKER_REMOTE_IMAGE, UNKNOWN, plain, workload_of


def image_problem(ref: Any) -> Optional[str]:
    """Why an image reference is not pinned, or None when it is (or cannot be known)."""
    if ref is UNKNOWN or ref is None:
        return None
    return pinning.image_problem(ref)


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


IMAGES_PINNED = ResourceValidationPolicy(
    name="images-pinned",
    description="Images are pinned to a version tag or a digest: no 'latest', nothing untagged.",
    validate=validate_images_pinned,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)
