"""ReceiveCluster: Thanos Receive (hashring), Query, and Store + Compact.

* ``replicas`` receivers form one hashring (ketama by default). Each is router
  and ingestor, unless ``router_replicas`` adds a separate, stateless router
  tier in front of ingest-only receivers.
* Query fans out to every receiver and to the Store gateway and deduplicates
  on the receive replica label and the agents' replica label: the global view.
* With an ObjectStore, receivers upload 2h blocks and a Store gateway plus a
  single Compactor serve and compact the bucket (unlimited retention).
* ``limits`` caps what one remote-write request may carry, per tenant, on the
  tier that takes remote write (routers, or every receiver without them).
* ``query_frontend`` puts a Thanos Query Frontend in front of Query (split
  range queries, retries, a results cache); ``query_url`` then points at it.
"""

# No postponed annotations: see object_store.py.
import re
from collections.abc import Mapping
from typing import Any, Optional, TypedDict

import pulumi
from typing_extensions import Required

from . import versions
from .config import (
    compact_args,
    query_args,
    query_frontend_args,
    receive_args,
    render_endpoint_sd,
    render_frontend_cache,
    render_hashring,
    render_receive_limits,
    router_args,
    store_args,
)
from .config.thanos import (
    COMPACT_DATA_DIR,
    ENDPOINTS_FILE,
    FRONTEND_CACHE_FILE,
    GRPC_PORT,
    HASHRINGS_FILE,
    HASHRINGS_REFRESH_SECONDS,
    HTTP_PORT,
    LIMITS_FILE,
    OBJSTORE_FILE,
    RECEIVE_DATA_DIR,
    REMOTE_WRITE_PORT,
    REQUEST_LIMIT_KEYS,
    STORE_DATA_DIR,
)
from .object_store import ObjectStore
from .settings import (
    QueryFrontendCacheSettings,
    QueryFrontendSettings,
    ReceiveLimitsSettings,
    ReceiveSettings,
    frozen_map,
    thaw,
)
from .sizing import (
    ResourcesArgs,
    SchedulingArgs,
    camel,
    scheduling,
    validate_resources,
    validate_scheduling,
    validate_storage_class,
)
from .spec import INSTANCE_ARG, ConfigFile, instance_names, HealthCheck, Port, Resources, Volume, Workload
from .targets import Target, split_args
from .validation import (
    check_args,
    check_bool,
    check_choice,
    check_duration,
    check_host_port,
    check_image,
    check_int,
    check_keys,
    check_list,
    check_label_name,
    check_port,
    check_size,
    check_tenant,
    check_unique,
    duration_seconds,
    is_zero_duration,
    pop_dependency,
)

# -- args and defaults --------------------------------------------------------
DEFAULT_REPLICAS = 3
DEFAULT_REPLICATION_FACTOR = 3
HASHRING_ALGORITHMS = ("ketama", "hashmod")
DEFAULT_HASHRING_ALGORITHM = "ketama"
DEFAULT_TENANT_HEADER = "THANOS-TENANT"
DEFAULT_TENANT = "default-tenant"
DEFAULT_TENANT_LABEL = "tenant_id"
# Receive's own replica label. Prefixed so it can never collide with an
# agent's external labels (validated in AgentFleet).
DEFAULT_REPLICA_LABEL = "receive_replica"
# The agents' replica label Query also deduplicates on.
DEFAULT_AGENT_REPLICA_LABELS = ("prometheus_replica",)
# Local TSDB retention: blocks are in the bucket after 2h, so receivers only
# keep enough for fast recent queries and a margin for upload retries.
DEFAULT_RETENTION = "6h"
DEFAULT_BLOCK_DURATION = "2h"
# How often Store re-lists the bucket. Thanos' own default is 15m; a newly
# uploaded block stays invisible to Store until the next sync.
DEFAULT_BUCKET_SYNC_INTERVAL = "3m"
# Late samples: off, as in Thanos. With a window, receive takes samples up to
# that much older than a series' newest (an agent's backlog after an outage
# longer than half a block) instead of refusing them with a 409 the agent
# never retries.
DEFAULT_OUT_OF_ORDER_WINDOW = "0s"
# Thanos' default: the compactor leaves blocks younger than this alone, so a
# block still being uploaded is never compacted half-written.
DEFAULT_COMPACT_CONSISTENCY_DELAY = "30m"
# Off, as in Thanos: a receiver that dies mid-query (SIGKILL, a node lost:
# no TCP reset) then stalls the queries in flight until gRPC keepalive gives
# up on it (~15s). A limit ends that sooner, but a store merely slow (a busy
# receiver, a Store gateway on slow object storage) is then left out too, and
# its samples with it (partial response, a warning): a trade-off the user makes.
DEFAULT_STORE_RESPONSE_TIMEOUT = "0s"
# Bucket retention per resolution, applied by the compactor; 0d keeps data
# forever (the bucket is the long-term store). Thanos refuses a raw
# retention under 40h or a 5m retention under 10d while downsampling, since
# those blocks would be deleted before they are downsampled.
DEFAULT_BUCKET_RETENTION = "0d"
MIN_RAW_RETENTION_SECONDS = 40 * 3600
MIN_5M_RETENTION_SECONDS = 10 * 86400
DEFAULT_QUERY_REPLICAS = 1
DEFAULT_QUERY_PORT = 10902
DEFAULT_FRONTEND_REPLICAS = 1
DEFAULT_FRONTEND_SPLIT_INTERVAL = "24h"
DEFAULT_FRONTEND_MAX_RETRIES = 5
DEFAULT_FRONTEND_PORT = 10912
DEFAULT_FRONTEND_CACHE_SIZE = "256MB"
DEFAULT_REMOTE_WRITE_PORT = 19291
REMOTE_WRITE_PATH = "/api/v1/receive"
DEFAULT_STORAGE_SIZE = "10Gi"

# Requests and limits per role; receive.resources.<role> overrides them key by key.
DEFAULT_RESOURCES = {
    "receive": Resources(cpu_request="250m", memory_request="512Mi", cpu_limit="2", memory_limit="2Gi"),
    "router": Resources(),
    "query": Resources(),
    "query_frontend": Resources(),
    "store": Resources(),
    "compact": Resources(),
}

THANOS_UID = "1001"  # the upstream image's user
LIMITS_KEYS = ("max_concurrency", "request", "tenants")


class RequestLimits(TypedDict, total=False):
    """Per remote-write request; 0 or unset means unlimited (Thanos' default)."""

    size_bytes_limit: int
    """Bytes of the request body, compressed and decompressed."""
    series_limit: int
    """Time series in one request."""
    samples_limit: int
    """Samples in one request."""


class ReceiveLimits(TypedDict, total=False):
    """Receive's write limits (``--receive.limits-config-file``)."""

    max_concurrency: int
    """Remote-write requests processed at once per receiver (0: unlimited)."""
    request: RequestLimits
    """Default per-request limits for every tenant."""
    tenants: dict[str, RequestLimits]
    """Overrides per tenant; unset keys fall back to ``request``."""


class QueryFrontendCache(TypedDict, total=False):
    """The frontend's results cache."""

    type: str
    """``in-memory`` (default, per replica), ``memcached`` or ``redis`` (yours, shared by every replica)."""
    max_size: str
    """``in-memory`` only: its size, e.g. ``256MB`` (default)."""
    addresses: list[str]
    """``memcached`` only: ``host:port`` of each memcached server."""
    address: str
    """``redis`` only: ``host:port`` of the Redis server."""


class QueryFrontendArgs(TypedDict, total=False):
    """Thanos Query Frontend: splits range queries, retries, caches results."""

    enabled: bool
    """Deploy it (default True when the mapping is given)."""
    replicas: int
    """Frontend replicas (default 1)."""
    split_interval: str
    """Range queries are split into pieces this long, run in parallel and cached one by one (default ``24h``)."""
    max_retries: int
    """Retries of a failed piece (default 5)."""
    cache: QueryFrontendCache
    """Results cache (default: in memory, 256MB)."""
    port: int
    """Host port on Docker (default 10912); Query keeps ``query_port``."""


class ReceiveResources(TypedDict, total=False):
    """Requests and limits per role; unset keys keep the defaults (``DEFAULT_RESOURCES``)."""

    receive: ResourcesArgs
    """Receivers (default requests 250m/512Mi, limits 2/2Gi)."""
    router: ResourcesArgs
    """Routers, with ``router_replicas`` (default requests 100m/128Mi, limits 1/1Gi)."""
    query: ResourcesArgs
    """Thanos Query (default requests 100m/128Mi, limits 1/1Gi)."""
    query_frontend: ResourcesArgs
    """Query Frontend (default requests 100m/128Mi, limits 1/1Gi)."""
    store: ResourcesArgs
    """Store gateway (default requests 100m/128Mi, limits 1/1Gi)."""
    compact: ResourcesArgs
    """Compactor (default requests 100m/128Mi, limits 1/1Gi)."""


class ReceiveClusterArgs(TypedDict, total=False):
    replicas: int
    """Receivers in the hashring (default 3)."""
    replication_factor: int
    """Copies of each sample, 1 <= RF <= replicas (default 3, capped at replicas)."""
    hashring_algorithm: str
    """``ketama`` (default) or ``hashmod``."""
    router_replicas: int
    """0 (default): every receiver routes and ingests. N > 0: N stateless routers."""
    tenant_header: str
    """HTTP header carrying the tenant (default ``THANOS-TENANT``)."""
    default_tenant: str
    """Tenant for writes without the header (default ``default-tenant``)."""
    tenant_label: str
    """Label receive adds with the tenant (default ``tenant_id``)."""
    replica_label: str
    """Receive's replica label (default ``receive_replica``)."""
    agent_replica_labels: list[str]
    """Agents' replica labels Query also deduplicates on (default ``[prometheus_replica]``)."""
    retention: str
    """Local TSDB retention (default ``6h``)."""
    block_duration: str
    """TSDB block length uploaded to the bucket (default ``2h``; shorter only for tests)."""
    bucket_sync_interval: str
    """How often Store syncs the bucket's block list (default ``3m``)."""
    out_of_order_window: str
    """Accept samples up to this much older than a series' newest (default ``0s``: off; at most ``retention``)."""
    compact_consistency_delay: str
    """Minimum age of a block before the compactor touches it (default ``30m``; shorter only for tests)."""
    store_response_timeout: str
    """How long Query waits for a StoreAPI endpoint's next message before answering without it, with a
    warning (default ``0s``: no limit, as in Thanos)."""
    bucket_retention_raw: str
    """How long the compactor keeps raw samples in the bucket (default ``0d``: forever; else >= 40h)."""
    bucket_retention_5m: str
    """How long it keeps 5m-downsampled data (default ``0d``: forever; else >= 10d)."""
    bucket_retention_1h: str
    """How long it keeps 1h-downsampled data (default ``0d``: forever)."""
    query_replicas: int
    """Thanos Query replicas (default 1)."""
    query_port: int
    """Host port for the Query UI/API on Docker (default 10902)."""
    query_frontend: QueryFrontendArgs
    """A Thanos Query Frontend in front of Query (default: none); ``query_url`` then points at it."""
    remote_write_port: int
    """Host port for remote write on Docker (default 19291)."""
    publish_remote_write: bool
    """Publish remote write for edges outside the network (default True)."""
    storage_size: str
    """Volume per receiver/store/compactor (default ``10Gi``)."""
    limits: ReceiveLimits
    """Write limits (default: none, as in Thanos). Agents' batches must fit under them."""
    resources: ReceiveResources
    """Requests and limits per role (default: ``DEFAULT_RESOURCES``)."""
    scheduling: SchedulingArgs
    """Kubernetes only: where every pod of the cluster may run (default: receivers spread softly across zones)."""
    storage_class: str
    """Kubernetes only: StorageClass of the receive/store/compact volumes (default: the target's)."""
    image: str
    """Thanos image (default pinned in ``versions.py``)."""
    target: Required[Target]
    """Where it runs: a ``DockerTarget`` or ``KubernetesTarget`` (required)."""
    object_store: ObjectStore
    """The bucket receive uploads blocks to; with it come a Store gateway and a Compactor (default: none, no bucket)."""


def validate_receive_args(args: Mapping[str, Any], target_kind: Optional[str] = None) -> ReceiveSettings:
    """The settings (args without ``target``, ``object_store``) merged with defaults, or raise ``ValueError``.
    ``target_kind`` (``docker``/``kubernetes``; None: not known yet) refuses Kubernetes-only keys on Docker."""
    a = check_args("ReceiveClusterArgs", args, ReceiveClusterArgs.__annotations__)
    replicas = check_int("receive.replicas", a.setdefault("replicas", DEFAULT_REPLICAS), 1, 64)
    rf = a.setdefault("replication_factor", min(DEFAULT_REPLICATION_FACTOR, replicas))
    check_int("receive.replicationFactor", rf, 1)
    if rf > replicas:
        raise ValueError(
            f"receive.replicationFactor: {rf} is greater than receive.replicas ({replicas}); "
            f"allowed values: 1 to {replicas}"
        )
    check_choice(
        "receive.hashringAlgorithm", a.setdefault("hashring_algorithm", DEFAULT_HASHRING_ALGORITHM), HASHRING_ALGORITHMS
    )
    check_int("receive.routerReplicas", a.setdefault("router_replicas", 0), 0, 16)
    for key, default, field in [
        ("tenant_label", DEFAULT_TENANT_LABEL, "receive.tenantLabel"),
        ("replica_label", DEFAULT_REPLICA_LABEL, "receive.replicaLabel"),
    ]:
        check_label_name(field, a.setdefault(key, default))
    check_list("receive.agentReplicaLabels", a.setdefault("agent_replica_labels", list(DEFAULT_AGENT_REPLICA_LABELS)))
    for i, label in enumerate(a["agent_replica_labels"]):
        check_label_name(f"receive.agentReplicaLabels[{i}]", label)
    if a["replica_label"] in a["agent_replica_labels"] or a["replica_label"] == a["tenant_label"]:
        raise ValueError(
            f"receive.replicaLabel: {a['replica_label']!r} collides with another label; allowed: a label name "
            "different from receive.tenantLabel and every agent replica label"
        )
    header = a.setdefault("tenant_header", DEFAULT_TENANT_HEADER)
    if not isinstance(header, str) or not header or not all(c.isalnum() or c == "-" for c in header):
        raise ValueError(f"receive.tenantHeader: {header!r} is not a valid HTTP header name; allowed: letters, digits, '-'")
    check_tenant("receive.defaultTenant", a.setdefault("default_tenant", DEFAULT_TENANT))
    check_duration("receive.retention", a.setdefault("retention", DEFAULT_RETENTION))
    check_duration("receive.blockDuration", a.setdefault("block_duration", DEFAULT_BLOCK_DURATION))
    if duration_seconds(a["block_duration"]) > duration_seconds(a["retention"]):
        raise ValueError(
            f"receive.retention: {a['retention']} is shorter than receive.blockDuration ({a['block_duration']}); "
            "allowed: a retention at least one block long, or blocks are deleted before upload"
        )
    check_duration("receive.bucketSyncInterval", a.setdefault("bucket_sync_interval", DEFAULT_BUCKET_SYNC_INTERVAL))
    window = check_duration(
        "receive.outOfOrderWindow", a.setdefault("out_of_order_window", DEFAULT_OUT_OF_ORDER_WINDOW), allow_zero=True
    )
    if duration_seconds(window) > duration_seconds(a["retention"]):
        raise ValueError(
            f"receive.outOfOrderWindow: {window} is longer than receive.retention ({a['retention']}); allowed: 0s (off) "
            "or a window up to the retention, since older samples would land in blocks already deleted"
        )
    check_duration(
        "receive.compactConsistencyDelay",
        a.setdefault("compact_consistency_delay", DEFAULT_COMPACT_CONSISTENCY_DELAY),
        allow_zero=True,
    )
    check_duration(
        "receive.storeResponseTimeout", a.setdefault("store_response_timeout", DEFAULT_STORE_RESPONSE_TIMEOUT),
        allow_zero=True,
    )
    for key, field, minimum in [
        ("bucket_retention_raw", "receive.bucketRetentionRaw", MIN_RAW_RETENTION_SECONDS),
        ("bucket_retention_5m", "receive.bucketRetention5m", MIN_5M_RETENTION_SECONDS),
        ("bucket_retention_1h", "receive.bucketRetention1h", 0),
    ]:
        # Zero, in any unit, is Thanos' "keep forever" here.
        value = check_duration(field, a.setdefault(key, DEFAULT_BUCKET_RETENTION), allow_zero=True)
        if not is_zero_duration(value):
            if duration_seconds(value) < minimum:
                raise ValueError(
                    f"{field}: {value} is too short to downsample from; allowed: 0d (forever) or at least "
                    f"{'40h' if minimum == MIN_RAW_RETENTION_SECONDS else '10d'}"
                )
    check_int("receive.queryReplicas", a.setdefault("query_replicas", DEFAULT_QUERY_REPLICAS), 1, 16)
    check_port("receive.queryPort", a.setdefault("query_port", DEFAULT_QUERY_PORT))
    check_port("receive.remoteWritePort", a.setdefault("remote_write_port", DEFAULT_REMOTE_WRITE_PORT))
    a["query_frontend"] = validate_query_frontend(a.get("query_frontend"))
    ports = {"queryPort": a["query_port"]}
    if check_bool("receive.publishRemoteWrite", a.setdefault("publish_remote_write", True)):
        ports["remoteWritePort"] = a["remote_write_port"]
    if a["query_frontend"]:
        ports["queryFrontend.port"] = a["query_frontend"].port
    if len(ports) > 1:
        check_unique(f"receive host ports ({', '.join(ports)})", list(ports.values()))
    check_size("receive.storageSize", a.setdefault("storage_size", DEFAULT_STORAGE_SIZE))
    a["limits"] = validate_limits(a.get("limits"))
    roles = check_keys("receive.resources", a.get("resources", {}), DEFAULT_RESOURCES)
    a["resources"] = {
        role: validate_resources(f"receive.resources.{camel(role)}", roles.get(role), default)
        for role, default in DEFAULT_RESOURCES.items()
    }
    a["scheduling"] = validate_scheduling("receive.scheduling", a.get("scheduling"), target_kind)
    a["storage_class"] = validate_storage_class("receive.storageClass", a.get("storage_class"), target_kind)
    check_image("images.thanos", a.setdefault("image", versions.THANOS_IMAGE))
    a["agent_replica_labels"] = tuple(a["agent_replica_labels"])
    a["resources"] = frozen_map(a["resources"])
    return ReceiveSettings(**a)


FRONTEND_KEYS = tuple(QueryFrontendArgs.__annotations__)
FRONTEND_CACHE_KEYS = {"in-memory": ("type", "max_size"), "memcached": ("type", "addresses"), "redis": ("type", "address")}
# Thanos' byte sizes in cache configs: a number and a unit.
_BYTE_SIZE_RE = re.compile(r"^[1-9][0-9]*(B|KB|MB|GB|KiB|MiB|GiB)$")


def validate_query_frontend(fe: object) -> Optional[QueryFrontendSettings]:
    """None (no frontend) or its settings with defaults. Messages name the
    stack-config keys (camelCase), as elsewhere."""
    if fe is None:
        return None
    f = dict(check_keys("receive.queryFrontend", fe, FRONTEND_KEYS))
    if not check_bool("receive.queryFrontend.enabled", f.pop("enabled", True)):
        if f:
            raise ValueError(
                f"receive.queryFrontend.{camel(next(iter(f)))}: has no effect with enabled false; allowed: remove it, "
                "or enable the frontend"
            )
        return None
    check_int("receive.queryFrontend.replicas", f.setdefault("replicas", DEFAULT_FRONTEND_REPLICAS), 1, 16)
    check_duration("receive.queryFrontend.splitInterval", f.setdefault("split_interval", DEFAULT_FRONTEND_SPLIT_INTERVAL))
    check_int("receive.queryFrontend.maxRetries", f.setdefault("max_retries", DEFAULT_FRONTEND_MAX_RETRIES), 0, 100)
    check_port("receive.queryFrontend.port", f.setdefault("port", DEFAULT_FRONTEND_PORT))
    cache = dict(check_keys("receive.queryFrontend.cache", f.get("cache", {}), ("type", "max_size", "addresses", "address")))
    kind = cache.setdefault("type", "in-memory")
    check_choice("receive.queryFrontend.cache.type", kind, FRONTEND_CACHE_KEYS)
    for key in cache:
        if key not in FRONTEND_CACHE_KEYS[kind]:
            raise ValueError(
                f"receive.queryFrontend.cache.{camel(key)}: has no effect with cache type {kind!r}; allowed keys: "
                f"{', '.join(map(camel, FRONTEND_CACHE_KEYS[kind]))}"
            )
    if kind == "in-memory":
        size = cache.setdefault("max_size", DEFAULT_FRONTEND_CACHE_SIZE)
        if not isinstance(size, str) or not _BYTE_SIZE_RE.match(size):
            raise ValueError(
                f"receive.queryFrontend.cache.maxSize: {size!r} is not a size; allowed: a number and a unit, e.g. 256MB, 1GB"
            )
    elif kind == "memcached":
        addresses = check_list("receive.queryFrontend.cache.addresses", cache.get("addresses"))
        if not addresses:
            raise ValueError("receive.queryFrontend.cache.addresses: required for memcached; allowed: a list of host:port")
        for i, addr in enumerate(addresses):
            check_host_port(f"receive.queryFrontend.cache.addresses[{i}]", addr)
    else:
        check_host_port("receive.queryFrontend.cache.address", cache.get("address"))
    if "addresses" in cache:
        cache["addresses"] = tuple(cache["addresses"])
    f["cache"] = QueryFrontendCacheSettings(**cache)
    return QueryFrontendSettings(**f)


def validate_limits(limits: object) -> Optional[ReceiveLimitsSettings]:
    """None (no limits file) or the limits with every value checked."""
    if limits is None:
        return None
    limits = check_keys("receive.limits", limits, LIMITS_KEYS)
    out: dict[str, Any] = {"max_concurrency": check_int("receive.limits.max_concurrency", limits.get("max_concurrency", 0), 0)}
    request = check_keys("receive.limits.request", limits.get("request", {}), REQUEST_LIMIT_KEYS)
    out["request"] = {k: check_int(f"receive.limits.request.{k}", v, 0) for k, v in request.items()}
    tenants = limits.get("tenants", {})
    if not isinstance(tenants, dict):
        raise ValueError("receive.limits.tenants: must be a mapping of tenant name to request limits")
    out["tenants"] = {}
    for tenant, tl in tenants.items():
        # A key Receive could never see as a tenant would be a limit that never applies.
        check_tenant(f"receive.limits.tenants.{tenant}", tenant)
        field = f"receive.limits.tenants.{tenant}"
        out["tenants"][tenant] = {k: check_int(f"{field}.{k}", v, 0) for k, v in check_keys(field, tl, REQUEST_LIMIT_KEYS).items()}
    return ReceiveLimitsSettings(
        max_concurrency=out["max_concurrency"], request=frozen_map(out["request"]), tenants=frozen_map(out["tenants"])
    )


def request_limits_for(limits: Optional[ReceiveLimitsSettings], tenant: str) -> dict[str, int]:
    """The limits Receive applies to one tenant's requests (0: unlimited):
    its own over the defaults."""
    merged = {k: 0 for k in REQUEST_LIMIT_KEYS}
    if limits is not None:
        merged.update(limits.request)
        merged.update(limits.tenants.get(tenant, {}))
    return merged


def write_quorum(replication_factor: int) -> int:
    """Writes Receive needs acknowledged: floor(RF/2)+1, except RF=2 -> 1."""
    return 1 if replication_factor == 2 else replication_factor // 2 + 1


# -- the component --------------------------------------------------------------
class ReceiveCluster(pulumi.ComponentResource):
    """Thanos Receive (a hashring), Query, and with an object store a Store gateway and a Compactor.

    Outputs: ``remote_write_url``, ``external_remote_write_url``, ``query_url``, ``store_endpoints``,
    ``hashring``, ``tenant_header``.
    """

    remote_write_url: pulumi.Output[str]
    """Remote write inside the network (Docker network, cluster Service)."""
    external_remote_write_url: pulumi.Output[str]
    """Remote write for a person or a remote edge: the published port or the ingress."""
    query_url: pulumi.Output[str]
    """Where to query: the Query Frontend when there is one, else Query."""
    query_direct_url: pulumi.Output[str]
    """Thanos Query's HTTP API and UI."""
    store_endpoints: pulumi.Output[list[str]]
    """gRPC StoreAPI endpoints Query fans out to."""
    hashring: pulumi.Output[str]
    """The hashrings.json receive routes by."""
    tenant_header: str
    """HTTP header receive reads the tenant from."""

    def __init__(self, name: str, args: ReceiveClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        a, target = split_args(ReceiveClusterArgs, args)
        object_store = pop_dependency(
            "ReceiveClusterArgs", a, "object_store", ObjectStore, "an ObjectStore, or none (no bucket)", required=False
        )
        s = validate_receive_args(a, target.kind)
        super().__init__("agentstream:index:ReceiveCluster", name, None, opts)
        self.settings: ReceiveSettings = s
        self.target = target
        image = s.image
        rf = s.replication_factor
        ingest_name = f"{name}-receive"
        router_name = f"{name}-router" if s.router_replicas else None
        write_name = router_name or ingest_name

        # The hashring lists each ingester by the same string it gets as
        # --receive.local-endpoint, so they match byte for byte.
        endpoints = [f"{target.instance_host(ingest_name, i)}:{GRPC_PORT}" for i in instance_names(ingest_name, s.replicas)]
        self.hashring_json = render_hashring(endpoints, algorithm=s.hashring_algorithm)
        # Live: receive re-reads it, so a new ring (receive.replicas changed)
        # reaches the running receivers and routers in place, restarting
        # none of them, and only once every new receiver is ready.
        hashring_file = ConfigFile(
            HASHRINGS_FILE, self.hashring_json, live=True, reload_seconds=HASHRINGS_REFRESH_SECONDS + 5
        )

        store_files: list[ConfigFile] = []
        store_volumes: list[Volume] = []
        if object_store is not None:
            store_files = [ConfigFile(OBJSTORE_FILE, object_store.objstore_config, secret=True)]
            store_volumes = list(object_store.volumes)
        depends = list(object_store.resources) if object_store is not None else []

        limit_files: list[ConfigFile] = []
        self.limits_yaml: Optional[str] = None
        if s.limits is not None:
            self.limits_yaml = render_receive_limits(
                max_concurrency=s.limits.max_concurrency, request=thaw(s.limits.request), tenants=thaw(s.limits.tenants)
            )
            limit_files = [ConfigFile(LIMITS_FILE, self.limits_yaml)]
        # The write tier gets the hashring and the limits: the routers, or,
        # without them, every receiver (router and ingestor in one process).
        # Each file a process is given is one its argv names.
        write_files = [hashring_file, *limit_files]
        limits_path = LIMITS_FILE if limit_files else None
        routes = router_name is None

        ingest_args = receive_args(
            s,
            instance=INSTANCE_ARG,
            local_endpoint=f"{target.instance_host_template(ingest_name)}:{GRPC_PORT}",
            hashrings_file=HASHRINGS_FILE if routes else None,
            limits_file=limits_path if routes else None,
            objstore_file=OBJSTORE_FILE if object_store is not None else None,
        )
        rw_publish = s.publish_remote_write and routes
        self.receive = Workload(
            name=ingest_name,
            component="receive",
            image=image,
            args=ingest_args,
            replicas=s.replicas,
            ports=[
                Port("grpc", GRPC_PORT),
                Port("http", HTTP_PORT),
                Port("remote-write", REMOTE_WRITE_PORT, publish=rw_publish, host_port=s.remote_write_port, ingress_path=REMOTE_WRITE_PATH),
            ],
            health=HealthCheck(port=HTTP_PORT),
            config_files=(write_files if routes else []) + store_files,
            volumes=[Volume("data", RECEIVE_DATA_DIR, size=s.storage_size), *store_volumes],
            user=THANOS_UID,
            resources=s.resources["receive"],
            # Receivers hold the data: spread them across zones where there are any.
            scheduling=scheduling(s.scheduling, spread_zones=True),
            storage_class=s.storage_class,
            # Every series lives on RF receivers and a write needs a quorum of
            # them, so at most RF - quorum may be down at once (RF 3: 1 of any
            # size of ring; RF 4: 1, not floor(4/2), as quorum is 3).
            max_unavailable=rf - write_quorum(rf),
        )
        self.workloads = [self.receive]
        # Receive does not wait for the object store: it needs the bucket
        # only when it ships its first block (2h in, or at its SIGTERM), and
        # a failed upload is retried from the block kept on its volume (the
        # fault suite's R3 stops the store for minutes: nothing lost). Store
        # and compactor read the bucket as they start, so they wait. On the
        # first deployment this takes the object store's health wait off the
        # way to the agents.
        self.deployments = [target.deploy(self.receive, parent=self)]

        if router_name is not None:
            self.router = Workload(
                name=router_name,
                component="receive-router",
                image=image,
                args=router_args(s, instance=INSTANCE_ARG, hashrings_file=HASHRINGS_FILE, limits_file=limits_path),
                replicas=s.router_replicas,
                ports=[
                    Port("http", HTTP_PORT),
                    Port("grpc", GRPC_PORT),
                    Port(
                        "remote-write", REMOTE_WRITE_PORT, publish=s.publish_remote_write,
                        host_port=s.remote_write_port, ingress_path=REMOTE_WRITE_PATH,
                    ),
                ],
                health=HealthCheck(port=HTTP_PORT),
                config_files=write_files,
                user=THANOS_UID,
                resources=s.resources["router"],
                scheduling=scheduling(s.scheduling, spread_zones=True),
                max_unavailable=1 if s.router_replicas > 1 else None,
            )
            self.workloads.append(self.router)
            self.deployments.append(target.deploy(self.router, parent=self, depends_on=self.deployments[0].resources))

        store_endpoints = list(endpoints)
        if object_store is not None:
            self.store = Workload(
                name=f"{name}-store",
                component="store",
                image=image,
                args=store_args(s),
                ports=[Port("grpc", GRPC_PORT), Port("http", HTTP_PORT)],
                health=HealthCheck(port=HTTP_PORT, start_period=60),
                config_files=store_files,
                volumes=[Volume("data", STORE_DATA_DIR, size=s.storage_size), *store_volumes],
                user=THANOS_UID,
                resources=s.resources["store"],
                scheduling=scheduling(s.scheduling),
                storage_class=s.storage_class,
            )
            # Exactly one compactor per bucket: two would compact the same
            # blocks and corrupt the bucket's view.
            self.compact = Workload(
                name=f"{name}-compact",
                component="compact",
                image=image,
                args=compact_args(s),
                replicas=1,
                ports=[Port("http", HTTP_PORT)],
                health=HealthCheck(port=HTTP_PORT, start_period=60),
                config_files=store_files,
                volumes=[Volume("data", COMPACT_DATA_DIR, size=s.storage_size), *store_volumes],
                user=THANOS_UID,
                resources=s.resources["compact"],
                scheduling=scheduling(s.scheduling),
                storage_class=s.storage_class,
            )
            self.workloads += [self.store, self.compact]
            self.deployments.append(target.deploy(self.store, parent=self, depends_on=depends))
            self.deployments.append(target.deploy(self.compact, parent=self, depends_on=depends))
            store_endpoints.append(f"{target.instance_host(self.store.name, self.store.name + '-0')}:{GRPC_PORT}")

        self.query = Workload(
            name=f"{name}-query",
            component="query",
            image=image,
            args=query_args(s),
            replicas=s.query_replicas,
            ports=[Port("grpc", GRPC_PORT), Port("http", HTTP_PORT, publish=True, host_port=s.query_port)],
            health=HealthCheck(port=HTTP_PORT),
            config_files=[ConfigFile(ENDPOINTS_FILE, render_endpoint_sd(store_endpoints))],
            user=THANOS_UID,
            resources=s.resources["query"],
            scheduling=scheduling(s.scheduling),
        )
        self.workloads.append(self.query)
        # Query finds its endpoints through the SD file and tolerates absent
        # ones, so it starts alongside the receivers instead of after them.
        query_deployed = target.deploy(self.query, parent=self)
        self.deployments.append(query_deployed)

        write_deployed = self.deployments[1] if router_name else self.deployments[0]
        # The tier that takes remote write (routers, or the receivers).
        self.write_tier = write_deployed
        self.remote_write_url = pulumi.Output.from_input(
            f"http://{target.service_host(write_name)}:{REMOTE_WRITE_PORT}{REMOTE_WRITE_PATH}"
        )
        # What a person or a remote edge uses: the published address (Docker
        # host port, Kubernetes ingress) when there is one.
        self.external_remote_write_url = pulumi.Output.from_input(
            write_deployed.urls.get("remote-write", f"http://{target.service_host(write_name)}:{REMOTE_WRITE_PORT}")
            + REMOTE_WRITE_PATH
        )
        self.query_url = pulumi.Output.from_input(query_deployed.urls["http"])
        # Query itself, also when a frontend answers query_url.
        self.query_direct_url = self.query_url
        fe = s.query_frontend
        if fe:
            self.query_frontend = Workload(
                name=f"{name}-query-frontend",
                component="query-frontend",
                image=image,
                args=query_frontend_args(s, downstream_url=f"http://{target.service_host(self.query.name)}:{HTTP_PORT}"),
                replicas=fe.replicas,
                ports=[Port("http", HTTP_PORT, publish=True, host_port=fe.port)],
                health=HealthCheck(port=HTTP_PORT),
                config_files=[ConfigFile(FRONTEND_CACHE_FILE, render_frontend_cache(fe.cache))],
                user=THANOS_UID,
                resources=s.resources["query_frontend"],
                scheduling=scheduling(s.scheduling),
            )
            self.workloads.append(self.query_frontend)
            frontend_deployed = target.deploy(self.query_frontend, parent=self, depends_on=query_deployed.resources)
            self.deployments.append(frontend_deployed)
            self.query_url = pulumi.Output.from_input(frontend_deployed.urls["http"])
        self.store_endpoints = pulumi.Output.from_input(store_endpoints)
        self.hashring = pulumi.Output.from_input(self.hashring_json)
        self.tenant_header = s.tenant_header
        self.register_outputs(
            {
                "remote_write_url": self.remote_write_url,
                "query_url": self.query_url,
                "query_direct_url": self.query_direct_url,
                "store_endpoints": self.store_endpoints,
                "hashring": self.hashring,
            }
        )

