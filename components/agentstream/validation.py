"""Checks shared by every component.

Each raises ``ValueError`` naming the offending field and what is allowed
(``TypeError`` for a wrong Python type: an args value that is not a mapping,
a dependency that is not a component), so bad input fails before Pulumi
creates anything.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Callable, Iterable, Literal, Optional, TypeVar, overload
from urllib.parse import urlsplit

from .pinning import PINNED_FORMS, image_problem

# Prometheus label names (the legacy, portable charset: receivers, PromQL and
# relabelling all accept it without quoting).
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus durations, e.g. 5s, 1m30s, 2h, 15d.
DURATION_RE = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
# DNS-1123 label: Docker container names and Kubernetes object names both accept it.
RESOURCE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

T = TypeVar("T")


def checked(value: Any, check: Callable[[Any], object]) -> Any:
    """``value`` run through ``check``: a plain value now, a Pulumi Output
    (a secret from ``Config.require_secret``, another stack's output) when it
    resolves, with the same message; the returned Output carries the check,
    so whatever is built from it fails with the message instead of using a
    bad value. An unknown value (a preview of a resource not yet created)
    is not checked: Pulumi skips the callback."""
    from pulumi import Output  # here, not at the top: the renderers import this module without Pulumi

    if isinstance(value, Output):
        return value.apply(lambda v: (check(v), v)[1])
    check(value)
    return value


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


def check_list(field: str, value: object) -> list[Any]:
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


def check_keys(field: str, value: object, allowed: Iterable[str]) -> dict[str, Any]:
    """A mapping whose keys are all in ``allowed`` (so all strings), returned
    as it is (not copied); names the first stray key and, for a misspelling
    of an allowed one, which key was meant."""
    allowed = tuple(allowed)
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be a mapping; allowed keys: {', '.join(allowed)}")
    unknown = sorted(set(value) - set(allowed), key=str)
    if unknown:
        meant = suggest_key(unknown[0], allowed)
        hint = f" (did you mean {meant!r}?)" if meant else ""
        raise ValueError(f"{field}.{unknown[0]}: unknown key{hint}; allowed keys: {', '.join(allowed)}")
    return value


def suggest_key(key: object, allowed: Iterable[str]) -> Optional[str]:
    """The allowed key ``key`` most likely stands for: the same words in the
    other case style (``replicationFactor`` for ``replication_factor``: stack
    config is camelCase, the Python API snake_case), else a close spelling."""
    allowed = tuple(allowed)
    words = str(key).replace("_", "").replace("-", "").lower()
    for candidate in allowed:
        if candidate.replace("_", "").replace("-", "").lower() == words:
            return candidate
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.8)
    return close[0] if close else None


def check_args(field: str, args: object, allowed: Iterable[str]) -> dict[str, Any]:
    """A component's args mapping (``field`` names its TypedDict), as a new
    dict. A wrong key would otherwise be ignored and its default deployed."""
    allowed = tuple(allowed)
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise TypeError(f"{field}: {args!r} is not a mapping; allowed: a dict with keys {', '.join(allowed)}")
    return check_keys(field, dict(args), allowed)


def check_instance(field: str, value: object, cls: type[T], allowed: str) -> T:
    """A dependency of the right class: a name or an args dict passed where a
    component belongs fails here, not deep inside as an AttributeError."""
    if not isinstance(value, cls):
        raise TypeError(f"{field}: {value!r} is {_a(type(value).__name__)}, not {_a(cls.__name__)}; allowed: {allowed}")
    return value


@overload
def pop_dependency(
    args_name: str, args: dict[str, Any], key: str, cls: type[T], allowed: str, required: Literal[True] = True
) -> T: ...


@overload
def pop_dependency(
    args_name: str, args: dict[str, Any], key: str, cls: type[T], allowed: str, required: bool
) -> Optional[T]: ...


def pop_dependency(
    args_name: str, args: dict[str, Any], key: str, cls: type[T], allowed: str, required: bool = True
) -> Optional[T]:
    """Take a dependency (a target, an object store, a receive cluster) out of
    checked args, so only settings remain, and check its class with
    ``check_instance``. An optional one that is absent or None gives None."""
    value = args.pop(key, None)
    if value is None and not required:
        return None
    return check_instance(f"{args_name}.{key}", value, cls, allowed)


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def check_labels(field: str, labels: object) -> dict[str, str]:
    if not isinstance(labels, dict):
        raise ValueError(f"{field}: must be a mapping of label name to string value, got {labels!r}")
    for k, v in labels.items():
        check_label_name(f"{field}.{k}", k)
        if not isinstance(v, str) or not v:
            raise ValueError(f"{field}.{k}: label value must be a non-empty string, got {v!r}")
    return labels


def check_duration(field: str, value: object, allow_zero: bool = False) -> str:
    """A Prometheus duration. Zero in any unit ("0s", "0m", "0d") is refused
    unless ``allow_zero``: as an interval or retention Prometheus and Thanos
    read it as "use the default" or "unlimited", not as zero."""
    if not isinstance(value, str) or not value or not DURATION_RE.match(value):
        raise ValueError(
            f"{field}: {value!r} is not a valid duration; allowed: a Prometheus duration such as 5s, 1m, 2h, 15d"
        )
    if not allow_zero and is_zero_duration(value):
        raise ValueError(
            f"{field}: {value!r} is a zero duration; allowed: a Prometheus duration above zero, such as 5s, 1m, 2h, 15d"
        )
    return value


def is_zero_duration(value: str) -> bool:
    """True for a (checked) duration whose every number is 0: "0d", "0h0m"."""
    return not any(int(n) for n in re.findall(r"\d+", value))


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


def check_image(field: str, value: object) -> str:
    """A pinned image reference, by the one rule the policy pack also applies."""
    problem = image_problem(value)
    # A non-string always has a problem; the isinstance only tells the type checker.
    if problem or not isinstance(value, str):
        raise ValueError(f"{field}: {problem}; allowed: {PINNED_FORMS}")
    return value


def check_unique(field: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{field}: {v!r} appears more than once; allowed: unique values")
        seen.add(v)


# -- Kubernetes ------------------------------------------------------------------------------
# A resource quantity as k8s.io/apimachinery/pkg/api/resource parses it: a
# signed decimal number, then a binary-SI (Ki..Ei), decimal-SI (m, k, M..E) or
# exponent (e6, E-3) suffix, or none. No space between number and suffix.
QUANTITY_RE = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
# A DNS-1123 subdomain (Kubernetes' IsDNS1123Subdomain): object names such as
# StorageClasses, IngressClasses and Secrets.
DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_size(field: str, value: object) -> str:
    """A storage size: a Kubernetes quantity of bytes, above zero. The milli
    suffix is refused: "500m" is half a byte, almost surely meant as 500M."""
    m = QUANTITY_RE.match(value) if isinstance(value, str) else None
    if not isinstance(value, str) or m is None or m.group(1) == "-" or Decimal(m.group(2)) == 0 or m.group(3) == "m":
        raise ValueError(
            f"{field}: {value!r} is not a valid size; allowed: a positive Kubernetes quantity of bytes such as "
            "10Gi, 500Mi or 500M (suffixes Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E; no space)"
        )
    return value


def check_cpu(field: str, value: object) -> str:
    """A CPU amount: a Kubernetes quantity of CPUs, above zero (250m, 0.5, 2)."""
    m = QUANTITY_RE.match(value) if isinstance(value, str) else None
    if not isinstance(value, str) or m is None or m.group(1) == "-" or Decimal(m.group(2)) == 0:
        raise ValueError(
            f"{field}: {value!r} is not a valid CPU amount; allowed: a positive Kubernetes quantity of CPUs "
            "such as 250m, 0.5 or 2 (a string; no space)"
        )
    return value


def check_object_name(field: str, value: object) -> str:
    """A Kubernetes object name that is a DNS-1123 subdomain (at most 253 characters)."""
    if not isinstance(value, str) or len(value) > 253 or not DNS_SUBDOMAIN_RE.match(value):
        raise ValueError(
            f"{field}: {value!r} is not a Kubernetes object name; allowed: a DNS-1123 subdomain of lower-case "
            "letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"
        )
    return value


def check_dns_domain(field: str, value: object) -> str:
    """A DNS domain such as cluster.local: a DNS-1123 subdomain whose every
    label fits DNS's 63-byte limit (names under it must resolve)."""
    if (
        not isinstance(value, str)
        or len(value) > 253
        or not DNS_SUBDOMAIN_RE.match(value)
        or any(len(label) > 63 for label in value.split("."))
    ):
        raise ValueError(
            f"{field}: {value!r} is not a DNS domain; allowed: dot-separated labels of lower-case letters, digits "
            "and '-' (each 1-63 characters, starting and ending with a letter or digit), e.g. cluster.local"
        )
    return value


# -- Thanos tenants ---------------------------------------------------------------------------
def go_path_base(p: str) -> str:
    """Go's ``path.Base``: the last element, trailing slashes removed; "."
    for "" and "/" for slashes only."""
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def check_tenant(field: str, value: object) -> str:
    """A tenant id Thanos Receive accepts and stores safely.

    Thanos' own rule: ``IsTenantValid`` in thanos-io/thanos
    pkg/tenancy/tenancy.go:41-46 (v0.42.4, the same on main) is an error when
    ``tenant != path.Base(tenant)``, i.e. for a tenant with a '/' in it, or
    the empty one. Receive applies it to every remote-write request
    (GetTenantFromHTTP, tenancy.go:67, from pkg/receive/handler.go:520), so a
    fleet with such a tenant has every write refused; an empty tenant is not
    even sent, and its series land in the default tenant. On top of that
    rule: ".", ".." and "/" pass it, but Receive opens each tenant's TSDB at
    ``path.Join(dataDir, tenant)`` (pkg/receive/multitsdb.go:943), for them
    the data directory itself or its parent; a tenant is one directory name
    (at most 255 bytes); and it travels as an HTTP header value, which cannot
    carry control characters and loses surrounding spaces.
    """
    if (
        not isinstance(value, str)
        or value != go_path_base(value)
        or value in (".", "..", "/")
        or len(value.encode()) > 255
        or value != value.strip()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        raise ValueError(
            f"{field}: {value!r} is not a valid Thanos tenant; allowed: a non-empty name without '/', other than "
            "'.' and '..', without control characters or surrounding spaces, at most 255 bytes (e.g. batmobile)"
        )
    return value


# -- addresses ---------------------------------------------------------------------------------
# One DNS label as Go's resolver takes it (net.isDomainName, which Prometheus
# and Thanos resolve through): letters, digits, '_' and '-', not starting or
# ending with '-', 1-63 characters. '_' is in: Docker container names have it.
_DNS_LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def is_dns_name(host: str) -> bool:
    """A host name Go's resolver would look up (a trailing dot is allowed)."""
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    # All-numeric names ("10.0.0.300") are refused as Go refuses them: a typo'd IP, not a name.
    return (
        0 < len(name) <= 253
        and all(_DNS_LABEL_RE.match(label) for label in labels)
        and not all(label.isdigit() for label in labels)
    )


def is_ip(host: str, version: Optional[int] = None) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return version is None or address.version == version


def _has_space_or_control(value: str) -> bool:
    return any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value)


def host_port_problem(value: str) -> Optional[str]:
    """Why ``value`` is not a scrape target's host:port, or None."""
    if "://" in value:
        return "no scheme: Prometheus adds http:// itself"
    if _has_space_or_control(value):
        return "it contains spaces or control characters"
    if "/" in value:
        return "no path: Prometheus scrapes /metrics"
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            return "no port after the bracketed IPv6 address"
        port = rest[1:]
        if not is_ip(host, 6):
            return "not an IPv6 address in the brackets"
    else:
        host, colon, port = value.rpartition(":")
        if not colon or not host:
            return "no port" if not colon else "no host"
        if ":" in host:
            return "an IPv6 address goes in brackets, e.g. [::1]:9100"
        if not (is_ip(host, 4) or is_dns_name(host)):
            return "the host is not a DNS name or IP address"
    if not port.isdigit() or not 0 < int(port) < 65536:
        return "the port is not 1-65535"
    return None


def check_host_port(field: str, value: object) -> str:
    """A scrape target: host:port and nothing else."""
    problem = host_port_problem(value) if isinstance(value, str) else "not a string"
    if problem or not isinstance(value, str):
        raise ValueError(
            f"{field}: {value!r} is not host:port ({problem}); allowed: a DNS name or IP address (IPv6 in "
            "brackets) and a port 1-65535, e.g. node-exporter:9100 or [fd00::1]:9100"
        )
    return value


def http_url_problem(value: str) -> Optional[str]:
    """Why ``value`` is not an http(s) URL with a host, or None."""
    if _has_space_or_control(value):
        return "it contains spaces or control characters"
    try:
        url = urlsplit(value)
    except ValueError:
        return "the bracketed IPv6 host is malformed"
    try:
        port = url.port
    except ValueError:
        return "the port is not 1-65535"
    if url.scheme not in ("http", "https") or not value.lower().startswith(url.scheme + "://"):
        return "it must start with http:// or https://"
    if url.username is not None or url.password is not None:
        return "user:password@ would sit in plain text in the config; credentials go in remoteWriteAuth"
    host = url.hostname or ""
    if not host:
        return "it has no host"
    if not (is_ip(host) if ":" in host else is_ip(host, 4) or is_dns_name(host)):
        return f"{host!r} is not a DNS name or IP address"
    if port == 0:
        return "the port is not 1-65535"
    return None


def check_http_url(field: str, value: object) -> str:
    problem = http_url_problem(value) if isinstance(value, str) else "not a string"
    if problem or not isinstance(value, str):
        raise ValueError(
            f"{field}: {redact_userinfo(value)!r} is not an http(s) URL ({problem}); allowed: http:// or https://, "
            "a host and an optional port and path, e.g. https://receive.example.com/api/v1/receive"
        )
    return value


def redact_userinfo(value: object) -> object:
    """``value`` with any user:password@ replaced, so an error message (and
    the CI log it lands in) never repeats a password."""
    if not isinstance(value, str):
        return value
    return re.sub(r"^([^/]*//)[^/@]*@", r"\1***@", value)
