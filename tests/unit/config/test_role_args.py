"""Role builders as plain functions: validated settings (and addresses, paths) in, argv out.

The shipped stacks' argv are pinned whole by the golden files
(``test_golden_args.py``); these tests pin what each flag depends on.
"""

from __future__ import annotations

import ast
import os

import pytest

from agentstream.agent_fleet import validate_fleet_args
from agentstream.config import agent_args, compact_args, query_args, receive_args, router_args, store_args
from agentstream.config.thanos import HASHRINGS_FILE, LIMITS_FILE, OBJSTORE_FILE
from agentstream.receive_cluster import validate_receive_args
from tests.support import resources as R

INSTANCE = "$(INSTANCE)"
LOCAL = "$(INSTANCE).central-receive.obs.svc.cluster.local:10901"
CONFIG_DIR = os.path.join(os.path.dirname(R.__file__), "..", "..", "components", "agentstream", "config")


def receive_settings(**overrides):
    return validate_receive_args(overrides)


def ingest(settings=None, **files):
    return receive_args(settings or receive_settings(), instance=INSTANCE, local_endpoint=LOCAL, **files)


def test_the_role_builders_import_no_pulumi():
    """Pure functions: testable, and usable by any renderer, without a Pulumi engine."""
    for name in sorted(os.listdir(CONFIG_DIR)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(CONFIG_DIR, name)) as f:
            tree = ast.parse(f.read())
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert [m for m in imported if m.split(".")[0].startswith("pulumi")] == [], name


# -- receive ---------------------------------------------------------------------------
def test_receive_ingest_only_with_defaults():
    assert ingest() == [
        "receive",
        "--log.level=info",
        "--http-address=0.0.0.0:10902",
        "--grpc-address=0.0.0.0:10901",
        "--remote-write.address=0.0.0.0:19291",
        "--tsdb.path=/var/thanos/receive",
        "--tsdb.retention=6h",
        "--tsdb.min-block-duration=2h",
        "--tsdb.max-block-duration=2h",
        '--label=receive_replica="$(INSTANCE)"',
        f"--receive.local-endpoint={LOCAL}",
        "--receive.tenant-header=THANOS-TENANT",
        "--receive.default-tenant-id=default-tenant",
        "--receive.tenant-label-name=tenant_id",
    ]


def test_receive_settings_reach_their_flags():
    s = receive_settings(
        retention="12h", block_duration="1h", replica_label="rr", tenant_header="X-Tenant",
        default_tenant="anon", tenant_label="tnt",
    )
    args = ingest(s)
    assert R.flag(args, "tsdb.retention") == "12h"
    assert R.flag(args, "tsdb.min-block-duration") == R.flag(args, "tsdb.max-block-duration") == "1h"
    assert R.flag(args, "label") == 'rr="$(INSTANCE)"'
    assert R.flag(args, "receive.tenant-header") == "X-Tenant"
    assert R.flag(args, "receive.default-tenant-id") == "anon"
    assert R.flag(args, "receive.tenant-label-name") == "tnt"


def test_receive_local_endpoint_and_instance_are_taken_verbatim():
    args = receive_args(receive_settings(), instance="central-receive-2", local_endpoint="central-receive-2:10901")
    assert R.flag(args, "receive.local-endpoint") == "central-receive-2:10901"
    assert R.flag(args, "label") == 'receive_replica="central-receive-2"'


@pytest.mark.parametrize("algorithm, replicas, rf", [("ketama", 3, 3), ("hashmod", 2, 2), ("ketama", 5, 1)])
def test_receive_that_routes_gets_the_ring_and_the_limits(algorithm, replicas, rf):
    s = receive_settings(hashring_algorithm=algorithm, replicas=replicas, replication_factor=rf)
    args = ingest(s, hashrings_file=HASHRINGS_FILE, limits_file=LIMITS_FILE)
    assert args[-5:] == [
        f"--receive.hashrings-file={HASHRINGS_FILE}",
        "--receive.hashrings-file-refresh-interval=15s",
        f"--receive.hashrings-algorithm={algorithm}",
        f"--receive.replication-factor={rf}",
        f"--receive.limits-config-file={LIMITS_FILE}",
    ]


def test_ingest_only_receive_has_no_ring_and_no_limits():
    # Limits act where remote write arrives; behind routers that is not here.
    args = ingest(limits_file=LIMITS_FILE)
    assert ingest() == args
    assert R.flags(args, "receive.hashrings-file") == R.flags(args, "receive.limits-config-file") == []


def test_receive_uploads_only_with_an_object_store():
    assert R.flags(ingest(), "objstore.config-file") == []
    args = ingest(hashrings_file=HASHRINGS_FILE, objstore_file=OBJSTORE_FILE)
    assert args[-1] == f"--objstore.config-file={OBJSTORE_FILE}"


# -- router ----------------------------------------------------------------------------
def test_router_routes_and_holds_no_data():
    args = router_args(receive_settings(replication_factor=2, replicas=2), instance=INSTANCE)
    assert args[0] == "receive"
    assert R.flag(args, "receive.hashrings-file") == HASHRINGS_FILE
    # Re-read every 15s: a new ring reaches a running router without a restart.
    assert R.flag(args, "receive.hashrings-file-refresh-interval") == "15s"
    assert R.flag(args, "receive.replication-factor") == "2"
    assert R.flag(args, "label") == 'receive_replica="$(INSTANCE)"'  # receive refuses to start without one
    for absent in ("receive.local-endpoint", "tsdb.path", "objstore.config-file", "receive.limits-config-file"):
        assert R.flags(args, absent) == [], absent


def test_router_limits_and_tenancy():
    s = receive_settings(tenant_header="X-Org", hashring_algorithm="hashmod")
    args = router_args(s, instance=INSTANCE, limits_file=LIMITS_FILE)
    assert R.flag(args, "receive.limits-config-file") == LIMITS_FILE
    assert R.flag(args, "receive.hashrings-algorithm") == "hashmod"
    assert R.flag(args, "receive.tenant-header") == "X-Org"


# -- query, store, compact ---------------------------------------------------------------
def test_query_dedups_on_every_replica_label_in_order():
    assert query_args(receive_settings()) == [
        "query",
        "--log.level=info",
        "--http-address=0.0.0.0:10902",
        "--grpc-address=0.0.0.0:10901",
        "--endpoint.sd-config-file=/etc/thanos/endpoints.yaml",
        "--query.replica-label=receive_replica",
        "--query.replica-label=prometheus_replica",
    ]
    s = receive_settings(replica_label="rr", agent_replica_labels=["a_rep", "b_rep"])
    assert R.flags(query_args(s), "query.replica-label") == ["rr", "a_rep", "b_rep"]


@pytest.mark.parametrize("timeout,flags", [("10s", ["10s"]), ("30s", ["30s"]), ("0s", [])])
def test_query_leaves_a_silent_store_out_after_the_response_timeout(timeout, flags):
    """0s (the default) is Thanos' own "no limit": no flag then."""
    assert R.flags(query_args(receive_settings(store_response_timeout=timeout)), "store.response-timeout") == flags


def test_store_response_timeout_is_a_duration():
    with pytest.raises(ValueError, match="receive.storeResponseTimeout"):
        receive_settings(store_response_timeout="10")


def test_query_uses_no_deprecated_endpoint_flags():
    args = query_args(receive_settings())
    assert R.flags(args, "endpoint") == R.flags(args, "store") == []


@pytest.mark.parametrize("interval", ["3m", "15s"])
def test_store_syncs_the_bucket_at_the_configured_interval(interval):
    args = store_args(receive_settings(bucket_sync_interval=interval))
    assert args[0] == "store"
    assert R.flag(args, "sync-block-duration") == interval
    assert R.flag(args, "objstore.config-file") == OBJSTORE_FILE
    assert R.flag(args, "data-dir") == "/var/thanos/store"


def test_compact_defaults_keep_the_bucket_forever():
    args = compact_args(receive_settings())
    assert args[:4] == ["compact", "--log.level=info", "--http-address=0.0.0.0:10902", "--wait"]
    assert R.flag(args, "deduplication.replica-label") == "receive_replica"
    for res in ("raw", "5m", "1h"):
        assert R.flag(args, f"retention.resolution-{res}") == "0d"
    assert R.flags(args, "grpc-address") == []  # the compactor serves no StoreAPI


def test_compact_settings_reach_their_flags():
    s = receive_settings(
        replica_label="rr", agent_replica_labels=["a_rep"],
        bucket_retention_raw="40h", bucket_retention_5m="10d", bucket_retention_1h="365d",
    )
    args = compact_args(s)
    # Only receive's replica label: the block label that tells replicas' copies apart.
    assert R.flags(args, "deduplication.replica-label") == ["rr"]
    assert [R.flag(args, f"retention.resolution-{r}") for r in ("raw", "5m", "1h")] == ["40h", "10d", "365d"]


def test_out_of_order_window_is_off_by_default():
    s = receive_settings()
    assert R.flags(ingest(s), "tsdb.out-of-order.time-window") == []
    assert R.flags(compact_args(s), "compact.enable-vertical-compaction") == []
    assert R.flag(compact_args(s), "consistency-delay") == "30m"  # Thanos' own default, written out


@pytest.mark.parametrize("window", ["30m", "4h"])
def test_out_of_order_window_reaches_receive_and_the_compactor_merges_overlaps(window):
    s = receive_settings(out_of_order_window=window, compact_consistency_delay="1m")
    assert R.flag(ingest(s), "tsdb.out-of-order.time-window") == window
    # Routers hold no TSDB: the window is the ingesters' alone.
    assert R.flags(router_args(s, instance=INSTANCE), "tsdb.out-of-order.time-window") == []
    args = compact_args(s)
    assert "--compact.enable-vertical-compaction" in args
    assert R.flag(args, "consistency-delay") == "1m"


# -- the agent -------------------------------------------------------------------------
def fleet_settings(**overrides):
    args = {"remote_write_url": "http://central-receive:19291/api/v1/receive", **overrides}
    return validate_fleet_args("batmobile", args, None, "docker")


def test_agent_with_defaults():
    assert agent_args(fleet_settings()) == [
        "--agent",
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.agent.path=/prometheus",
        "--storage.agent.retention.max-time=4h",
        "--storage.remote.flush-deadline=4h",
        "--web.listen-address=0.0.0.0:9090",
    ]


@pytest.mark.parametrize("retention", ["2h", "1d"])
def test_agent_wal_retention(retention):
    args = agent_args(fleet_settings(wal_retention=retention))
    assert R.flag(args, "storage.agent.retention.max-time") == retention
    # A reshard during an outage waits as long as the WAL keeps samples.
    assert R.flag(args, "storage.remote.flush-deadline") == retention


def test_agent_never_gets_server_storage_flags():
    # Agent mode rejects --storage.tsdb.*; the image's default CMD has one.
    args = agent_args(fleet_settings(wal_retention="8h", scrape_interval="5s", agents=3))
    assert args[0] == "--agent"
    assert [a for a in args if a.startswith("--storage.tsdb.")] == []
