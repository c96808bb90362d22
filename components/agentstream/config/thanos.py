"""Thanos config files: hashrings.json, objstore YAML, endpoint discovery."""

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
