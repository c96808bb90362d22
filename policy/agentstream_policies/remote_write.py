"""remote-write-secure-target: agents remote-write over https, or over http only
to an in-cluster or in-network host.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .config import HTTP_HOSTS_SCHEMA
from .model import DOCKER_CONTAINER, K8S_CONFIG_MAP, K8S_SECRET, as_dict, as_list, parse_yaml, plain


def remote_write_urls(text: Any) -> list[str]:
    doc = parse_yaml(text)
    if not isinstance(doc, dict):
        return []
    return [rw.get("url") for rw in as_list(doc.get("remote_write")) if isinstance(rw, dict) and isinstance(rw.get("url"), str)]


_IN_CLUSTER_SUFFIXES = (".svc", ".cluster.local")
# Loopback, RFC 1918, link-local, IPv6 unique-local: addresses that stay in a network.
_IN_NETWORK = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10")
]


def insecure_remote_write(url: str, allowed_hosts: Iterable[str]) -> Optional[str]:
    """Why ``url`` is not an acceptable remote-write target, or None."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"remote write URL '{url}' does not parse"
    if parts.scheme == "https":
        return None
    if parts.scheme != "http":
        return f"remote write URL '{url}' uses scheme '{parts.scheme}'; use https"
    if parts.username or parts.password:
        return f"remote write URL '{url}' carries credentials over plain http"
    for allowed in allowed_hosts:
        allowed = allowed.lower()
        if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
            return None
    if host and "." not in host:
        return None  # a Docker network alias or a Kubernetes service in the same namespace
    if host.endswith(_IN_CLUSTER_SUFFIXES) or ".svc." in host:
        return None  # Kubernetes service DNS
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        if any(ip in net for net in _IN_NETWORK if net.version == ip.version):
            return None
    except ValueError:
        if host == "localhost":
            return None
    return (
        f"remote write URL '{url}' sends metrics and tenant headers over plain http to '{host}', "
        "which is neither in-cluster nor in-network; use https (or add the host to allowedHttpHosts)"
    )


def _config_texts(t: str, props: dict, name: str) -> list[tuple[str, Any]]:
    """(where, content) of config files a resource carries inline."""
    if t == DOCKER_CONTAINER:
        return [(f"Container {props.get('name') or name} file {u.get('file')}", u.get("content"))
                for u in as_list(props.get("uploads")) if isinstance(u, dict)]
    if t == K8S_CONFIG_MAP:
        return [(f"ConfigMap {name} key '{k}'", v) for k, v in as_dict(props.get("data")).items()]
    if t == K8S_SECRET:
        return [(f"Secret {name} key '{k}'", v) for k, v in as_dict(props.get("stringData")).items()]
    return []


def validate_remote_write(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = plain(args.props)
    allowed = [h for h in as_list(args.get_config().get("allowedHttpHosts")) if isinstance(h, str)]
    for where, text in _config_texts(args.resource_type, props, args.name):
        for url in remote_write_urls(text):
            problem = insecure_remote_write(url, allowed)
            if problem:
                report(f"{where}: {problem}.", None)


SECURE_TARGET = ResourceValidationPolicy(
    name="remote-write-secure-target",
    description="Remote write targets https, or an in-cluster or in-network address.",
    validate=validate_remote_write,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=HTTP_HOSTS_SCHEMA,
)
