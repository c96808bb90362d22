"""Thanos config files (hashrings.json, objstore YAML, endpoint discovery,
write limits) and command lines (one role builder per role: receive, router,
query, store, compact).

The role builders are pure: validated settings and the addresses and paths a
process is given, in; its argv, out. The shipped stacks' argv are pinned by
golden files (``tests/golden/args/``), so a changed flag is a reviewed diff.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

import yaml

from ..settings import QueryFrontendCacheSettings, ReceiveSettings
from ..validation import is_zero_duration


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


# -- command lines -------------------------------------------------------------
# Thanos' own default ports, so the docs and tools that assume them hold.
HTTP_PORT = 10902
GRPC_PORT = 10901
REMOTE_WRITE_PORT = 19291
# Where each file and data directory sits in the container. The component
# mounts the file, or the volume, at the same constant the flag names.
# The hashring sits alone in its own directory: both targets deliver it as a
# directory that changes in place (a live file, see spec.ConfigFile), so a
# new ring reaches running receivers without restarting them.
HASHRINGS_FILE = "/etc/thanos/hashring/hashrings.json"
# How often receive re-reads the hashring file. It also watches the file
# (inotify), but a file replaced by a rename (the Docker writer, the
# kubelet's ConfigMap update) ends that watch, so this re-read is what picks
# a new ring up; Thanos' own default is 5m.
HASHRINGS_REFRESH_SECONDS = 15
OBJSTORE_FILE = "/etc/thanos/objstore.yml"
LIMITS_FILE = "/etc/thanos/limits.yml"
ENDPOINTS_FILE = "/etc/thanos/endpoints.yaml"
FRONTEND_CACHE_FILE = "/etc/thanos/frontend-cache.yml"
RECEIVE_DATA_DIR = "/var/thanos/receive"
STORE_DATA_DIR = "/var/thanos/store"
COMPACT_DATA_DIR = "/var/thanos/compact"


def receive_args(
    settings: ReceiveSettings,
    *,
    instance: str,
    local_endpoint: str,
    hashrings_file: Optional[str] = None,
    limits_file: Optional[str] = None,
    objstore_file: Optional[str] = None,
) -> list[str]:
    """An ingesting receiver's argv; ``settings`` are ReceiveCluster's validated args.

    ``instance`` is how the process names itself (``$(INSTANCE)``, expanded
    per instance by the target): it is the receive replica label, so every
    replica's blocks stay apart until Query and Compact deduplicate them.
    ``local_endpoint`` must equal this receiver's hashring entry byte for
    byte, or it forwards its own share to itself over the network.

    The optional files are the ones the receiver is given; each adds its
    flag. ``hashrings_file`` makes it route as well as ingest (no router
    tier), and only then do write limits apply here, where remote write
    arrives. ``objstore_file`` makes it upload its blocks to the bucket.
    """
    args = [
        "receive",
        *_server_flags(),
        f"--remote-write.address=0.0.0.0:{REMOTE_WRITE_PORT}",
        f"--tsdb.path={RECEIVE_DATA_DIR}",
        f"--tsdb.retention={settings.retention}",
        # Equal min and max: no local compaction, so receive cuts and
        # uploads blocks of exactly this length and the compactor alone
        # merges them.
        f"--tsdb.min-block-duration={settings.block_duration}",
        f"--tsdb.max-block-duration={settings.block_duration}",
        _replica_label_flag(settings, instance),
        f"--receive.local-endpoint={local_endpoint}",
        *_tenancy_flags(settings),
    ]
    if not is_zero_duration(settings.out_of_order_window):
        # Late samples go to a separate out-of-order head; its blocks overlap
        # the in-order ones, which the compactor merges (compact_args).
        args.append(f"--tsdb.out-of-order.time-window={settings.out_of_order_window}")
    if hashrings_file is not None:
        args += _ring_flags(settings, hashrings_file) + _limits_flags(limits_file)
    if objstore_file is not None:
        args.append(f"--objstore.config-file={objstore_file}")
    return args


def router_args(
    settings: ReceiveSettings,
    *,
    instance: str,
    hashrings_file: str = HASHRINGS_FILE,
    limits_file: Optional[str] = None,
) -> list[str]:
    """A stateless router's argv: it takes remote write and forwards by the hashring.

    Without ``--receive.local-endpoint`` receive runs as a router only, and
    holds no data. Write limits (``limits_file``) act here, where remote
    write arrives, when there is a router tier.
    """
    return [
        "receive",
        *_server_flags(),
        f"--remote-write.address=0.0.0.0:{REMOTE_WRITE_PORT}",
        # Receive refuses to start without an external label, even routing
        # only; routers hold no data, so it never shows.
        _replica_label_flag(settings, instance),
        *_ring_flags(settings, hashrings_file),
        *_limits_flags(limits_file),
        *_tenancy_flags(settings),
    ]


def query_args(settings: ReceiveSettings) -> list[str]:
    """Query's argv: the global view, deduplicated.

    It finds its StoreAPI endpoints in a file (``--endpoint`` is deprecated,
    and ``--store`` gone), and deduplicates on receive's replica label and
    on every agent replica label, so RF copies and HA agent pairs show once.
    """
    args = [
        "query",
        *_server_flags(),
        f"--endpoint.sd-config-file={ENDPOINTS_FILE}",
        *[f"--query.replica-label={label}" for label in (settings.replica_label, *settings.agent_replica_labels)],
    ]
    if not is_zero_duration(settings.store_response_timeout):
        # An endpoint silent this long (a receiver killed mid-query) is left
        # out with a warning (partial response, on by default) instead of
        # stalling the query: the other replicas hold its samples.
        args.append(f"--store.response-timeout={settings.store_response_timeout}")
    return args


def store_args(settings: ReceiveSettings) -> list[str]:
    """The Store gateway's argv: it serves the bucket's blocks to Query.

    It re-lists the bucket every ``bucket_sync_interval``; a block uploaded
    in between stays invisible to Query until the next sync.
    """
    return [
        "store",
        *_server_flags(),
        f"--data-dir={STORE_DATA_DIR}",
        f"--objstore.config-file={OBJSTORE_FILE}",
        f"--sync-block-duration={settings.bucket_sync_interval}",
    ]


def compact_args(settings: ReceiveSettings) -> list[str]:
    """The Compactor's argv (one per bucket: two would compact the same blocks).

    ``--wait`` keeps it running instead of compacting once and exiting. It
    merges the receive replicas' copies of a block on receive's replica
    label, the block label that tells those copies apart (the agents'
    replica label is a series label inside the blocks, which Query
    deduplicates), and applies the bucket retention per resolution (0d:
    forever). Blocks younger than ``compact_consistency_delay`` are left
    alone (one may still be uploading). With an out-of-order window receive
    uploads blocks that overlap others: vertical compaction merges them
    (the replica label already turns it on; the flag says so outright).
    """
    args = [
        "compact",
        "--log.level=info",
        f"--http-address=0.0.0.0:{HTTP_PORT}",
        "--wait",
        f"--data-dir={COMPACT_DATA_DIR}",
        f"--objstore.config-file={OBJSTORE_FILE}",
        f"--deduplication.replica-label={settings.replica_label}",
        f"--retention.resolution-raw={settings.bucket_retention_raw}",
        f"--retention.resolution-5m={settings.bucket_retention_5m}",
        f"--retention.resolution-1h={settings.bucket_retention_1h}",
        f"--consistency-delay={settings.compact_consistency_delay}",
    ]
    if not is_zero_duration(settings.out_of_order_window):
        args.append("--compact.enable-vertical-compaction")
    return args


def query_frontend_args(settings: ReceiveSettings, *, downstream_url: str) -> list[str]:
    """The Query Frontend's argv: in front of Query, it splits a range query
    into ``split_interval`` pieces (run in parallel, cached one by one),
    retries a failed piece, and answers repeated ranges from its results
    cache. HTTP only: it speaks Query's HTTP API, not the StoreAPI."""
    fe = settings.query_frontend
    assert fe is not None, "query_frontend_args without a frontend"
    return [
        "query-frontend",
        "--log.level=info",
        f"--http-address=0.0.0.0:{HTTP_PORT}",
        f"--query-frontend.downstream-url={downstream_url}",
        f"--query-range.split-interval={fe.split_interval}",
        f"--query-range.max-retries-per-request={fe.max_retries}",
        f"--query-range.response-cache-config-file={FRONTEND_CACHE_FILE}",
        # Label and series requests are split and cached the same way.
        f"--labels.split-interval={fe.split_interval}",
        f"--labels.max-retries-per-request={fe.max_retries}",
        f"--labels.response-cache-config-file={FRONTEND_CACHE_FILE}",
    ]


def render_frontend_cache(cache: QueryFrontendCacheSettings) -> str:
    """The frontend's results cache (``--query-range.response-cache-config``):
    in memory (per replica), or a shared memcached or Redis the user runs."""
    if cache.type == "memcached":
        doc: dict[str, Any] = {"type": "MEMCACHED", "config": {"addresses": list(cache.addresses or ())}}
    elif cache.type == "redis":
        doc = {"type": "REDIS", "config": {"addr": cache.address}}
    else:
        doc = {"type": "IN-MEMORY", "config": {"max_size": cache.max_size}}
    return yaml.safe_dump(doc, sort_keys=False)


def _server_flags() -> list[str]:
    # Listen on every interface: the target decides what is reachable.
    return ["--log.level=info", f"--http-address=0.0.0.0:{HTTP_PORT}", f"--grpc-address=0.0.0.0:{GRPC_PORT}"]


def _replica_label_flag(settings: ReceiveSettings, instance: str) -> str:
    # Quoted: Thanos parses --label as key="value".
    return f'--label={settings.replica_label}="{instance}"'


def _tenancy_flags(settings: ReceiveSettings) -> list[str]:
    return [
        f"--receive.tenant-header={settings.tenant_header}",
        f"--receive.default-tenant-id={settings.default_tenant}",
        f"--receive.tenant-label-name={settings.tenant_label}",
    ]


def _ring_flags(settings: ReceiveSettings, hashrings_file: str) -> list[str]:
    return [
        f"--receive.hashrings-file={hashrings_file}",
        f"--receive.hashrings-file-refresh-interval={HASHRINGS_REFRESH_SECONDS}s",
        f"--receive.hashrings-algorithm={settings.hashring_algorithm}",
        f"--receive.replication-factor={settings.replication_factor}",
    ]


def _limits_flags(limits_file: Optional[str]) -> list[str]:
    return [] if limits_file is None else [f"--receive.limits-config-file={limits_file}"]
