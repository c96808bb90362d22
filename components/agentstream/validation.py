"""Checks shared by every component.

Each raises ``ValueError`` naming the offending field and what is allowed, so
a bad stack config fails before Pulumi creates anything.
"""

from __future__ import annotations

import re
from typing import Iterable

# Prometheus label names (the legacy, portable charset: receivers, PromQL and
# relabelling all accept it without quoting).
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus durations, e.g. 5s, 1m30s, 2h, 15d.
DURATION_RE = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
# DNS-1123 label: Docker container names and Kubernetes object names both accept it.
RESOURCE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_choice(field: str, value: object, allowed: Iterable[object]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{field}: {value!r} is not allowed; allowed values: {', '.join(map(str, allowed))}")


def check_int(field: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{field}: {value} is out of range; allowed values: integers {bound}")
    return value


def check_bool(field: str, value: object) -> bool:
    """A real boolean: YAML's ``"false"``/``"no"`` strings and ``0``/``1`` are
    refused, not read as truthy or falsy values."""
    if not isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not allowed; allowed values: true, false")
    return value


def check_list(field: str, value: object) -> list:
    """A list (a string would otherwise be iterated character by character)."""
    if not isinstance(value, list):
        raise ValueError(f"{field}: must be a list, got {value!r}")
    return value


def check_label_name(field: str, value: object) -> str:
    if not isinstance(value, str) or not LABEL_NAME_RE.match(value) or value.startswith("__"):
        raise ValueError(
            f"{field}: {value!r} is not a valid label name; allowed: [a-zA-Z_][a-zA-Z0-9_]*, not starting with '__'"
        )
    return value


def check_keys(field: str, value: object, allowed: Iterable[str]) -> dict:
    """A mapping whose keys are all in ``allowed``; names the first stray key."""
    allowed = tuple(allowed)
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be a mapping; allowed keys: {', '.join(allowed)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"{field}.{unknown[0]}: unknown key; allowed keys: {', '.join(allowed)}")
    return value


def check_labels(field: str, labels: object) -> dict[str, str]:
    if not isinstance(labels, dict):
        raise ValueError(f"{field}: must be a mapping of label name to string value, got {labels!r}")
    for k, v in labels.items():
        check_label_name(f"{field}.{k}", k)
        if not isinstance(v, str) or not v:
            raise ValueError(f"{field}.{k}: label value must be a non-empty string, got {v!r}")
    return labels


def check_duration(field: str, value: object) -> str:
    if not isinstance(value, str) or not value or not DURATION_RE.match(value) or value == "0s":
        raise ValueError(
            f"{field}: {value!r} is not a valid duration; allowed: a Prometheus duration such as 5s, 1m, 2h, 15d"
        )
    return value


def duration_seconds(value: str) -> int:
    """Seconds in a Prometheus duration (already checked)."""
    units = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
    total = 0.0
    for num, unit in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", value):
        total += int(num) / 1000 if unit == "ms" else int(num) * units[unit]
    return int(total)


def check_name(field: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > 40 or not RESOURCE_NAME_RE.match(value):
        raise ValueError(
            f"{field}: {value!r} is not a valid name; allowed: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 40 characters"
        )
    return value


def check_port(field: str, value: object) -> int:
    return check_int(field, value, 1, 65535)


# A pinned image: a tag that is not "latest", or a digest.
IMAGE_RE = re.compile(r"^[a-z0-9][\w.\-/]*(:\d+)?(/[\w.\-]+)*(:[\w][\w.\-]{0,127}|@sha256:[0-9a-f]{64})$")


def check_image(field: str, value: object) -> str:
    if (
        not isinstance(value, str)
        or not IMAGE_RE.match(value)
        or value.rsplit("/", 1)[-1].split("@")[0].endswith(":latest")
        or ":" not in value.rsplit("/", 1)[-1] and "@" not in value
    ):
        raise ValueError(
            f"{field}: {value!r} is not a pinned image; allowed: repository:tag (not latest) or repository@sha256:<digest>"
        )
    return value


def check_unique(field: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{field}: {v!r} appears more than once; allowed: unique values")
        seen.add(v)
