"""The policies' own settings: defaults, config schemas, and reading them.

The engine validates each policy's entry in ``--policy-pack-config`` against
the schema the policy declares here, after filling in the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema

from .model import as_list, project_of, stack_of

DEFAULT_ALLOW_RF1 = ["dev"]
DEFAULT_ALLOW_UNLIMITED_WRITES = ["dev"]
DEFAULT_PUBLISH_ADDRESSES = ["127.0.0.1"]


def _stack_exemptions_schema(key: str, description: str, default: list[str]) -> PolicyConfigSchema:
    """Config schema of one "these stacks are exempt" setting (a list, or true/false)."""
    return PolicyConfigSchema(
        properties={key: {"description": description, "type": ["boolean", "array"], "items": {"type": "string"}, "default": default}}
    )


def _string_list_schema(key: str, description: str, default: list[str]) -> PolicyConfigSchema:
    return PolicyConfigSchema(
        properties={key: {"description": description, "type": "array", "items": {"type": "string"}, "default": default}}
    )


# receive-replication-factor and receive-pod-disruption-budget
RF_SCHEMA = _stack_exemptions_schema(
    "allowReplicationFactorOne",
    "Stacks allowed to run Receive with replication factor 1 (true: every stack).",
    DEFAULT_ALLOW_RF1,
)
# receive-write-limits
UNLIMITED_WRITES_SCHEMA = _stack_exemptions_schema(
    "allowUnlimitedWrites",
    "Stacks whose receivers may take remote write without limits (true: every stack).",
    DEFAULT_ALLOW_UNLIMITED_WRITES,
)
# remote-write-secure-target
HTTP_HOSTS_SCHEMA = _string_list_schema(
    "allowedHttpHosts",
    "Extra hosts (or '.suffix' domains) agents may write to over plain http.",
    [],
)
# docker-ports-localhost
PUBLISH_ADDRESSES_SCHEMA = _string_list_schema(
    "allowedPublishAddresses",
    "Host addresses published ports may bind to.",
    DEFAULT_PUBLISH_ADDRESSES,
)


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
