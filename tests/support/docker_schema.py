"""Check a pulumi_docker resource's recorded inputs against the provider schema.

``/work/shared/schemas/pulumi-docker.schema.json`` is the pulumi-docker (v5.x)
Pulumi package schema. The mocks accept any property name and any value, so
without this a misspelt or mistyped Docker argument would only show up on a
real ``pulumi up``. The check covers:

* the type token is a resource of the provider;
* every input property name exists (``inputProperties``);
* every required input is present (``requiredInputs``), recursively for
  object types (``required``);
* value types: string, integer, number, boolean, arrays (``items``), maps
  (``additionalProperties``), object types and enums through ``$ref``.

Inputs are as the stack runner records them: camelCase names, secrets
unwrapped, integral numbers as ``int``. Values not yet known (preview) are
accepted anywhere.

API::

    errors = validate_docker_resource("docker:index/container:Container", inputs)
    errors = validate_docker_resources(run.resources)   # every docker:* resource
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Iterable, Optional

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA_PATH = os.path.join(REPO, "..", "shared", "schemas", "pulumi-docker.schema.json")
# Where the project's shared files live on the build machines, for a clone
# made somewhere else (e.g. CI cloning into /tmp).
MACHINE_SCHEMA_PATH = "/work/shared/schemas/pulumi-docker.schema.json"
# Lets a harness running from another checkout point at the schema.
SCHEMA_ENV = "AGENTSTREAM_DOCKER_SCHEMA"

# The engine's placeholder for a value not known yet (preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_TYPES_PREFIX = "#/types/"


class SchemaNotFound(FileNotFoundError):
    pass


def schema_path() -> str:
    """$AGENTSTREAM_DOCKER_SCHEMA, else ../shared beside the repo, else the machine's /work/shared."""
    if os.environ.get(SCHEMA_ENV):
        return os.path.abspath(os.environ[SCHEMA_ENV])
    for candidate in (SCHEMA_PATH, MACHINE_SCHEMA_PATH):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return os.path.abspath(SCHEMA_PATH)  # load_schema explains what is missing


@functools.lru_cache(maxsize=4)
def load_schema(path: Optional[str] = None) -> dict[str, Any]:
    """The provider schema (cached). Fails clearly when the file is missing."""
    path = os.path.abspath(path or schema_path())
    if not os.path.isfile(path):
        raise SchemaNotFound(
            f"pulumi-docker schema not found at {path}; expected the shared schemas next to the repo "
            f"(../shared/schemas/pulumi-docker.schema.json), at {MACHINE_SCHEMA_PATH}, or a path in ${SCHEMA_ENV}"
        )
    with open(path) as f:
        schema = json.load(f)
    if "resources" not in schema or "types" not in schema:
        raise ValueError(f"{path}: not a Pulumi package schema (no 'resources'/'types')")
    return schema


def validate_docker_resource(
    type_token: str, inputs: dict[str, Any], schema: Optional[dict[str, Any]] = None
) -> list[str]:
    """Errors (empty when valid) for one resource's inputs.

    ``type_token`` is e.g. ``docker:index/container:Container``; ``inputs``
    its recorded input properties.
    """
    schema = schema or load_schema()
    resource = schema["resources"].get(type_token)
    if resource is None:
        return [f"{type_token}: not a resource of the pulumi-docker schema"]
    if not isinstance(inputs, dict):
        return [f"{type_token}: inputs must be an object, got {type(inputs).__name__}"]
    return _check_object(
        schema,
        type_token,
        inputs,
        resource.get("inputProperties", {}),
        resource.get("requiredInputs", []),
    )


def validate_docker_resources(resources: Iterable[Any], schema: Optional[dict[str, Any]] = None) -> list[str]:
    """Errors for every ``docker:*`` resource in ``resources``.

    Each item needs ``.type`` and ``.inputs`` (a stack runner ``Resource``)
    or is a ``(type_token, inputs)`` pair. Errors are prefixed with the
    resource name when there is one.
    """
    errors: list[str] = []
    for r in resources:
        if isinstance(r, tuple):
            typ, inputs, name = r[0], r[1], None
        else:
            typ, inputs, name = r.type, r.inputs, getattr(r, "name", None)
        if not typ.startswith("docker:"):
            continue
        for e in validate_docker_resource(typ, inputs, schema):
            errors.append(f"{name}: {e}" if name else e)
    return errors


# -- internals -------------------------------------------------------------------
def _check_object(
    schema: dict[str, Any], where: str, value: dict[str, Any], properties: dict[str, Any], required: list[str]
) -> list[str]:
    errors = []
    for name in required:
        if value.get(name) is None:
            errors.append(f"{where}: required property {name!r} is missing")
    for name, v in value.items():
        spec = properties.get(name)
        if spec is None:
            errors.append(f"{where}: unknown property {name!r}; allowed: {', '.join(sorted(properties))}")
            continue
        errors += _check_value(schema, f"{where}.{name}", v, spec)
    return errors


def _check_value(schema: dict[str, Any], where: str, value: Any, spec: dict[str, Any]) -> list[str]:
    if value is None or value == UNKNOWN:
        return []
    if "$ref" in spec:
        return _check_ref(schema, where, value, spec["$ref"])
    if "oneOf" in spec:
        options = [_check_value(schema, where, value, o) for o in spec["oneOf"]]
        return [] if any(not o for o in options) else [f"{where}: matches none of its allowed types ({options[0][0]})"]
    typ = spec.get("type")
    if typ == "string":
        return [] if isinstance(value, str) else [_wrong(where, "string", value)]
    if typ == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [_wrong(where, "integer", value)]
    if typ == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [_wrong(where, "number", value)]
    if typ == "boolean":
        return [] if isinstance(value, bool) else [_wrong(where, "boolean", value)]
    if typ == "array":
        if not isinstance(value, list):
            return [_wrong(where, "array", value)]
        errors = []
        for i, item in enumerate(value):
            errors += _check_value(schema, f"{where}[{i}]", item, spec.get("items", {}))
        return errors
    if typ == "object":
        if not isinstance(value, dict):
            return [_wrong(where, "object (map)", value)]
        errors = []
        for k, item in value.items():
            if not isinstance(k, str):
                errors.append(f"{where}: map key {k!r} is not a string")
            errors += _check_value(schema, f"{where}[{k!r}]", item, spec.get("additionalProperties", {}))
        return errors
    if typ is None:
        return []  # an untyped property accepts anything
    return [f"{where}: schema type {typ!r} is not understood by this checker"]


def _check_ref(schema: dict[str, Any], where: str, value: Any, ref: str) -> list[str]:
    if ref.startswith("pulumi.json#/"):
        kind = ref.split("/", 1)[1]
        if kind in ("Any", "Json"):
            return []
        if kind in ("Asset", "Archive"):
            return []  # not something the recorded inputs carry as plain data
        return [f"{where}: built-in type {ref!r} is not understood by this checker"]
    if not ref.startswith(_TYPES_PREFIX):
        return [f"{where}: reference {ref!r} is not understood by this checker"]
    token = ref[len(_TYPES_PREFIX):]
    typ = schema["types"].get(token)
    if typ is None:
        return [f"{where}: schema references unknown type {token!r}"]
    if "enum" in typ:
        allowed = [e.get("value") for e in typ["enum"]]
        errors = _check_value(schema, where, value, {"type": typ.get("type", "string")})
        if not errors and value not in allowed:
            errors.append(f"{where}: {value!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")
        return errors
    if typ.get("type", "object") == "object":
        if not isinstance(value, dict):
            return [_wrong(where, f"object {token}", value)]
        return _check_object(schema, where, value, typ.get("properties", {}), typ.get("required", []))
    return _check_value(schema, where, value, typ)


def _wrong(where: str, expected: str, value: Any) -> str:
    return f"{where}: expected {expected}, got {type(value).__name__} {value!r}"[:300]
