"""Thanos config files: hashrings.json, objstore YAML, endpoint discovery, write limits."""

from __future__ import annotations

import json
from typing import Optional

import yaml


def render_hashring(
    endpoints: list[str],
    *,
    name: str = "default",
    tenants: Optional[list[str]] = None,
    algorithm: Optional[str] = None,
) -> str:
    """One hashring with every ingesting receiver.

    Each entry must equal, byte for byte, that receiver's
    ``--receive.local-endpoint``, or it forwards to itself over the network.
    An empty tenant list makes this the catch-all hashring.
    """
    ring: dict[str, object] = {"hashring": name, "tenants": list(tenants or []), "endpoints": list(endpoints)}
    if algorithm:
        ring["algorithm"] = algorithm
    return json.dumps([ring], indent=2) + "\n"


def render_s3_objstore(
    *, bucket: str, endpoint: str, access_key: str, secret_key: str, insecure: bool = True, region: str = ""
) -> str:
    """Thanos S3 objstore config for a self-hosted S3 server.

    ``bucket_lookup_type: path`` because self-hosted servers do not serve
    virtual-host style buckets on a bare service name.
    """
    config = {
        "type": "S3",
        "config": {
            "bucket": bucket,
            "endpoint": endpoint,
            "region": region,
            "access_key": access_key,
            "secret_key": secret_key,
            "insecure": insecure,
            "bucket_lookup_type": "path",
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def render_filesystem_objstore(directory: str) -> str:
    return yaml.safe_dump({"type": "FILESYSTEM", "config": {"directory": directory}}, sort_keys=False)


def render_endpoint_sd(addresses: list[str]) -> str:
    """Query's ``--endpoint.sd-config``: the StoreAPI endpoints it fans out to.

    Not strict: an endpoint that is briefly down (a restarting receiver) is
    dropped and re-added, rather than failing queries.
    """
    return yaml.safe_dump({"endpoints": [{"address": a} for a in addresses]}, sort_keys=False)


def render_seaweedfs_identities(*, access_key: str, secret_key: str, identity: str = "thanos") -> str:
    """SeaweedFS ``-s3.config`` identities: one admin identity for Thanos."""
    config = {
        "identities": [
            {
                "name": identity,
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    return json.dumps(config, indent=2) + "\n"


# Receive's request-limit keys, as the limits file names them.
REQUEST_LIMIT_KEYS = ("size_bytes_limit", "series_limit", "samples_limit")


def render_receive_limits(
    *,
    max_concurrency: int = 0,
    request: Optional[dict[str, int]] = None,
    tenants: Optional[dict[str, dict[str, int]]] = None,
) -> str:
    """Receive's ``--receive.limits-config-file``: write limits for every tenant.

    ``request`` holds the default per-request limits (``size_bytes_limit``,
    ``series_limit``, ``samples_limit``; 0 means unlimited), ``tenants`` the
    overrides per tenant; a key a tenant leaves out falls back to the default.
    A request over a limit is refused with 413, which Prometheus does not
    retry, so limits must sit above what agents send in one request.
    Head-series limits are left out: they need a meta-monitoring Prometheus
    that scrapes every receiver, which this pipeline does not deploy.
    """
    write: dict[str, object] = {}
    if max_concurrency:
        write["global"] = {"max_concurrency": max_concurrency}
    write["default"] = {"request": dict(request or {})}
    if tenants:
        write["tenants"] = {tenant: {"request": dict(limits)} for tenant, limits in sorted(tenants.items())}
    return yaml.safe_dump({"write": write}, sort_keys=False)
