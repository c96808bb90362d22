"""Typed, frozen settings: what validation returns and what the renderers read.

A component's args (a ``TypedDict``: what a caller may write, all optional)
are checked and merged with their defaults once, by the component's
``validate_*_args``; the result is one of these dataclasses. They are frozen
(a renderer or a second component cannot change what the first validated)
and fully typed (every field is there, defaults applied), so code reads
``settings.replication_factor``, not ``settings["replication_factor"]``.

Field names are the args' names, so a stack key, a Python argument and a
settings attribute are one name in three spellings (``replicationFactor``,
``replication_factor``, ``.replication_factor``); ``tests/unit/test_settings.py``
checks that every args field has its attribute.

Raw objects whose keys are someone else's (Kubernetes scheduling objects,
Thanos' limits file) are read-only mappings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional

from .spec import Resources


def frozen_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a mapping, nested mappings and lists included
    (lists become tuples)."""
    return MappingProxyType({k: _freeze(v) for k, v in value.items()})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return frozen_map(value)
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again, for serializers (YAML, Pulumi inputs)
    that know only those."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class QueryFrontendCacheSettings:
    """The Query Frontend's results cache; only the type's own keys are set."""

    type: str
    max_size: Optional[str] = None
    addresses: Optional[tuple[str, ...]] = None
    address: Optional[str] = None


@dataclass(frozen=True)
class QueryFrontendSettings:
    replicas: int
    split_interval: str
    max_retries: int
    port: int
    cache: QueryFrontendCacheSettings


@dataclass(frozen=True)
class ReceiveLimitsSettings:
    """Receive's write limits (Thanos' limits-file keys; 0: unlimited)."""

    max_concurrency: int
    request: Mapping[str, int]
    tenants: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class ReceiveSettings:
    """A ReceiveCluster's validated settings (``ReceiveClusterArgs`` without its dependencies)."""

    replicas: int
    replication_factor: int
    hashring_algorithm: str
    router_replicas: int
    tenant_label: str
    replica_label: str
    agent_replica_labels: tuple[str, ...]
    tenant_header: str
    default_tenant: str
    retention: str
    block_duration: str
    bucket_sync_interval: str
    out_of_order_window: str
    compact_consistency_delay: str
    store_response_timeout: str
    bucket_retention_raw: str
    bucket_retention_5m: str
    bucket_retention_1h: str
    query_replicas: int
    query_port: int
    remote_write_port: int
    query_frontend: Optional[QueryFrontendSettings]
    publish_remote_write: bool
    storage_size: str
    limits: Optional[ReceiveLimitsSettings]
    resources: Mapping[str, Resources]
    """Per role: ``receive``, ``router``, ``query``, ``query_frontend``, ``store``, ``compact``."""
    scheduling: Mapping[str, Any]
    storage_class: Optional[str]
    image: str


@dataclass(frozen=True)
class ScrapeJobSettings:
    name: str
    targets: tuple[str, ...]
    metrics_path: str


@dataclass(frozen=True)
class RemoteWriteAuthSettings:
    type: str
    secret: Any
    """The token or password: a string, or an Output (a config secret) checked when it resolves."""
    username: Optional[str] = None


@dataclass(frozen=True)
class FleetSettings:
    """An AgentFleet's validated settings (``AgentFleetArgs`` without its dependencies)."""

    agents: int
    cluster: str
    external_labels: Mapping[str, str]
    replica_label: str
    scrape_interval: str
    static_targets: tuple[str, ...]
    scrape_jobs: tuple[ScrapeJobSettings, ...]
    kubernetes_sd: bool
    remote_write_url: Any
    """None (the ReceiveCluster's), a URL, or an Output of one (checked when it resolves)."""
    tenant: str
    tenant_header: Any
    """A header name, or an Output of one (an edge reads central's)."""
    queue_config: Mapping[str, Any]
    wal_retention: str
    wal_size: str
    remote_write_auth: Optional[RemoteWriteAuthSettings]
    resources: Resources
    scheduling: Mapping[str, Any]
    storage_class: Optional[str]
    image: str


@dataclass(frozen=True)
class ObjectStoreSettings:
    """An ObjectStore's validated settings. The server's keys (``image``,
    ``resources``, ``scheduling``, ``storage_class``) are set only for the
    self-hosted engines (``seaweedfs``, ``minio``); ``external_config`` only
    for ``external``."""

    engine: str
    bucket: str
    storage_size: str
    external_config: Any = None
    """A Thanos objstore YAML, or an Output of one (a config secret) checked when it resolves."""
    image: Optional[str] = None
    resources: Optional[Resources] = None
    scheduling: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    storage_class: Optional[str] = None


@dataclass(frozen=True)
class AlertmanagerSettings:
    replicas: int
    port: int
    storage_size: str
    resources: Resources
    image: str
    config: Any = None
    """Alertmanager's own config (a mapping, or an Output of one checked when it resolves); None: the default."""


@dataclass(frozen=True)
class AlertingSettings:
    """An Alerting's validated settings (``AlertingArgs`` without its dependencies)."""

    eval_interval: str
    retention: str
    replicas: int
    default_rules: bool
    rule_files: Mapping[str, str]
    """File name to YAML text."""
    alertmanager_urls: Optional[tuple[str, ...]]
    alertmanager: Optional[AlertmanagerSettings]
    """None with ``alertmanager_urls`` (the user's Alertmanagers; none is deployed)."""
    port: int
    storage_size: str
    storage_class: Optional[str]
    resources: Resources
    scheduling: Mapping[str, Any]
    image: str


@dataclass(frozen=True)
class DockerTargetSettings:
    network: str
    publish_address: str
    restart: str
    wait: bool
    create_network: bool


@dataclass(frozen=True)
class IngressSettings:
    host: str
    await_address: bool
    address_timeout: str
    annotations: Mapping[str, str]
    class_name: Optional[str] = None
    tls_secret_name: Optional[str] = None


@dataclass(frozen=True)
class KubernetesTargetSettings:
    namespace: str
    create_namespace: bool
    cluster_domain: str
    storage_class: Optional[str]
    """None: the cluster's default class; "": no class (pre-provisioned volumes only)."""
    ingress: Optional[IngressSettings]
