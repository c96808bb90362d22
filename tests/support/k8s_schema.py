"""Validate recorded Kubernetes objects with ``kubernetes_validate`` (strict).

The recorded inputs of a ``kubernetes:*`` resource are the object itself
(camelCase, with ``apiVersion`` and ``kind``), so they validate as-is against
the OpenAPI schemas bundled with kubernetes-validate. Strict mode rejects
unknown fields, which is what catches a misspelt property.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import kubernetes_validate

# Two recent minors: objects must be valid on both.
K8S_VERSIONS: tuple[str, ...] = ("1.36.0", "1.37.0")


def validate_k8s_object(obj: dict[str, Any], versions: Sequence[str] = K8S_VERSIONS) -> list[str]:
    """Errors (empty when valid) for one object, on every version."""
    errors = []
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')} on {version}: {path}: {e.message}")
        except Exception as e:  # SchemaNotFoundError and friends carry .message
            errors.append(f"{obj.get('kind')} on {version}: {type(e).__name__}: {getattr(e, 'message', e)}")
    return errors


def validate_k8s_resources(resources: Iterable[Any], versions: Sequence[str] = K8S_VERSIONS) -> list[str]:
    """Errors for every ``kubernetes:*`` resource (stack runner ``Resource``)."""
    errors = []
    for r in resources:
        if r.type.startswith("kubernetes:"):
            errors += [f"{r.name}: {e}" for e in validate_k8s_object(r.inputs, versions)]
    return errors
