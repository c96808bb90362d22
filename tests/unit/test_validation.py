"""The shared checks in agentstream.validation, and pinned versions."""

from __future__ import annotations

import re

import pytest

from agentstream import versions
from agentstream.validation import (
    check_args,
    check_choice,
    check_dns_domain,
    check_duration,
    check_host_port,
    check_http_url,
    check_instance,
    check_int,
    check_keys,
    check_label_name,
    check_labels,
    check_name,
    check_object_name,
    check_port,
    check_size,
    check_tenant,
    check_unique,
    duration_seconds,
    go_path_base,
    suggest_key,
)


@pytest.mark.parametrize("value", ["cluster", "_x", "prometheus_replica", "A1", "tenant_id"])
def test_label_name_ok(value):
    assert check_label_name("f", value) == value


@pytest.mark.parametrize("value", ["", "1abc", "a-b", "a.b", "a b", "__name__", "__x", "ü", None, 3])
def test_label_name_bad(value):
    with pytest.raises(ValueError) as e:
        check_label_name("receive.replicaLabel", value)
    assert str(e.value).startswith("receive.replicaLabel:")
    assert "allowed: [a-zA-Z_][a-zA-Z0-9_]*" in str(e.value)


def test_labels_mapping():
    assert check_labels("f", {"a": "1", "b_c": "x y"}) == {"a": "1", "b_c": "x y"}
    with pytest.raises(ValueError, match=r"^f\.a: label value"):
        check_labels("f", {"a": 1})
    with pytest.raises(ValueError, match=r"^f: must be a mapping"):
        check_labels("f", ["a"])


@pytest.mark.parametrize("value,seconds", [("5s", 5), ("1m30s", 90), ("2h", 7200), ("15d", 1296000), ("1w", 604800), ("1y", 31536000), ("1500ms", 1), ("1h30m", 5400)])
def test_duration_ok(value, seconds):
    assert check_duration("f", value) == value
    assert duration_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "5", "5 s", "5S", "1.5h", "-1h", "0s", "h", "5sec", "1m1h", None, 5])
def test_duration_bad(value):
    with pytest.raises(ValueError) as e:
        check_duration("receive.retention", value)
    assert "receive.retention" in str(e.value) and "5s, 1m, 2h, 15d" in str(e.value)


def test_int_bounds():
    assert check_int("f", 3, 1, 5) == 3
    for bad in (0, 6):
        with pytest.raises(ValueError, match="between 1 and 5"):
            check_int("f", bad, 1, 5)
    with pytest.raises(ValueError, match=">= 1"):
        check_int("f", 0, 1)
    for bad in (True, 2.0, "2", None):
        with pytest.raises(ValueError, match="must be an integer"):
            check_int("f", bad, 1)


def test_port():
    assert check_port("p", 65535) == 65535
    for bad in (0, 65536):
        with pytest.raises(ValueError, match="between 1 and 65535"):
            check_port("p", bad)


def test_choice_lists_allowed():
    check_choice("f", "a", ("a", "b"))
    with pytest.raises(ValueError, match=r"f: 'c' is not allowed; allowed values: a, b"):
        check_choice("f", "c", ("a", "b"))


@pytest.mark.parametrize("value", ["a", "agentstream", "edge-batmobile", "a1-b2", "x" * 40])
def test_name_ok(value):
    assert check_name("f", value) == value


@pytest.mark.parametrize("value", ["", "A", "a_b", "-a", "a-", "a.b", "x" * 41, None])
def test_name_bad(value):
    with pytest.raises(ValueError, match="lower-case letters"):
        check_name("f", value)


def test_unique():
    check_unique("f", [1, 2, 3])
    with pytest.raises(ValueError, match="2 appears more than once; allowed: unique values"):
        check_unique("f", [1, 2, 2])


# -- versions -----------------------------------------------------------------------------
def test_every_image_pinned_in_one_place():
    assert set(versions.DEFAULT_IMAGES) == {"prometheus", "thanos", "seaweedfs", "minio", "alertmanager"}
    for name, image in versions.DEFAULT_IMAGES.items():
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", image
        assert "/" in repo
    assert versions.PROMETHEUS_IMAGE.endswith(":" + versions.PROMETHEUS_VERSION)
    assert versions.THANOS_IMAGE.endswith(":" + versions.THANOS_VERSION)
    assert versions.ALERTMANAGER_IMAGE.endswith(":" + versions.ALERTMANAGER_VERSION)
    assert re.fullmatch(r"v3\.\d+\.\d+", versions.PROMETHEUS_VERSION)
    assert re.fullmatch(r"v0\.\d+\.\d+", versions.THANOS_VERSION)
    assert versions.MINIO_VERSION == "RELEASE.2025-10-15T17-29-55Z"  # the last community release


@pytest.mark.parametrize(
    "image",
    [
        "quay.io/thanos/thanos:v0.42.5",
        "localhost:5000/team/prometheus:v3.16.0",
        "busybox@sha256:" + "a" * 64,
        "busybox:1.36@sha256:" + "a" * 64,
        "quay.io/minio/minio:RELEASE.2025-10-15T17-29-55Z",
    ],
)
def test_check_image_accepts_pinned(image):
    from agentstream.validation import check_image

    assert check_image("images.x", image) == image


@pytest.mark.parametrize(
    "image",
    [
        "thanos",
        "quay.io/thanos/thanos:latest",
        "localhost:5000/thanos",
        "a b:1",
        "quay.io/thanos/thanos:main",  # a floating tag: no version in it
        "quay.io/Thanos/thanos:v0.42.5",  # repositories are lower case
        "busybox@sha256:abc",
        "",
        None,
    ],
)
def test_check_image_rejects_unpinned(image):
    from agentstream.validation import check_image

    with pytest.raises(ValueError, match=r"images.x: .* allowed: repository:tag \(not latest\)"):
        check_image("images.x", image)


def test_components_refuse_unpinned_images_when_imported():
    """Used directly (not through stack config), components still refuse `latest`."""
    from agentstream.agent_fleet import validate_fleet_args
    from agentstream.receive_cluster import validate_receive_args

    with pytest.raises(ValueError, match="images.thanos"):
        validate_receive_args({"image": "quay.io/thanos/thanos:latest"})
    with pytest.raises(ValueError, match=r"fleets\[edge\].image"):
        validate_fleet_args("edge", {"image": "prom/prometheus", "remote_write_url": "http://r:19291"}, None, "docker")


# -- zero durations ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["0s", "0m", "0h", "0d", "0w", "0y", "0ms", "0h0m", "0d0h0m0s"])
def test_zero_duration_refused_unless_allowed(value):
    with pytest.raises(ValueError, match=r"^fleets\[f\]\.scrapeInterval: '.*' is a zero duration; allowed: a Prometheus duration above zero"):
        check_duration("fleets[f].scrapeInterval", value)
    # Where zero means something (bucket retention: forever), any unit is zero.
    assert check_duration("receive.bucketRetentionRaw", value, allow_zero=True) == value


@pytest.mark.parametrize("value", ["1ms", "0h1m", "10m0s", "1d0h"])
def test_duration_with_a_nonzero_part_is_not_zero(value):
    assert check_duration("f", value) == value


def test_allow_zero_still_checks_the_form():
    with pytest.raises(ValueError, match="is not a valid duration"):
        check_duration("f", "0", allow_zero=True)


# -- Kubernetes quantities and names ------------------------------------------------------------
@pytest.mark.parametrize("value", ["10Gi", "500M", "500Mi", "1.5Gi", "1Ti", "1e9", "128974848", "+5Gi", ".5Gi", "1k", "1E3"])
def test_size_ok(value):
    assert check_size("receive.storageSize", value) == value


@pytest.mark.parametrize(
    "value",
    ["twenty gigs", "10 Gi", "10Gi ", "", "-1Gi", "0", "0Gi", "0.0Mi", "500m", "Gi", "10gi", "10GB", "10G i", "1e", 10, None, True],
)
def test_size_bad(value):
    with pytest.raises(ValueError) as e:
        check_size("receive.storageSize", value)
    assert str(e.value).startswith(f"receive.storageSize: {value!r} is not a valid size; allowed: a positive Kubernetes quantity")
    assert "10Gi, 500Mi or 500M" in str(e.value)


@pytest.mark.parametrize("value", ["fast", "fast-ssd", "gp3.csi.aws.com", "a", "x" * 253])
def test_object_name_ok(value):
    assert check_object_name("kubernetes.storageClass", value) == value


@pytest.mark.parametrize("value", ["Fast", "fast_ssd", "-fast", "fast-", "fast..ssd", ".fast", "x" * 254, "", 3])
def test_object_name_bad(value):
    with pytest.raises(ValueError, match=r"^kubernetes\.storageClass: .* allowed: a DNS-1123 subdomain"):
        check_object_name("kubernetes.storageClass", value)


@pytest.mark.parametrize("value", ["cluster.local", "corp.example.com", "local", "k8s-1.example"])
def test_dns_domain_ok(value):
    assert check_dns_domain("kubernetes.clusterDomain", value) == value


@pytest.mark.parametrize("value", ["cluster.local.", ".cluster.local", "Cluster.Local", "cluster..local", "cluster_local", "a" * 64 + ".local", "", None])
def test_dns_domain_bad(value):
    with pytest.raises(ValueError, match=r"^kubernetes\.clusterDomain: .* allowed: .* e\.g\. cluster\.local"):
        check_dns_domain("kubernetes.clusterDomain", value)


# -- Thanos tenants -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path,base",
    # What Go's path.Base returns for each (go doc path.Base).
    [("", "."), ("a", "a"), ("a/b", "b"), ("a/", "a"), ("/", "/"), ("///", "/"), ("/etc/foo", "foo"), ("./../../x", "x"), ("..", "..")],
)
def test_go_path_base(path, base):
    assert go_path_base(path) == base


# Thanos' own cases (pkg/receive/handler_test.go TestIsTenantValid), then ours.
@pytest.mark.parametrize("value", ["default-tenant", "528d0490-8720-4478-aa29-819d90fc9a9f", "foo", "team_a", "Wayne Enterprises", "ü", "a" * 255])
def test_tenant_ok(value):
    assert check_tenant("fleets[f].tenant", value) == value


@pytest.mark.parametrize("value", ["/etc/foo", "./../../hacker_dir", "///", "a/b", "a/", "", ".", "..", "/", " a", "a ", "a\nb", "a\tb", "a" * 256, "é" * 128, None, 7])
def test_tenant_bad(value):
    with pytest.raises(ValueError) as e:
        check_tenant("fleets[f].tenant", value)
    assert str(e.value).startswith(f"fleets[f].tenant: {value!r} is not a valid Thanos tenant; allowed: a non-empty name without '/'")


# -- scrape targets and URLs ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    ["node-exporter:9100", "10.0.0.1:9100", "[::1]:9100", "[fd00::1]:65535", "my_container:1", "host.example.com.:9100", "NODE:9100", "a1:80"],
)
def test_host_port_ok(value):
    assert check_host_port("fleets[f].staticTargets[0]", value) == value


@pytest.mark.parametrize(
    "value,reason",
    [
        ("http://node-exporter:9100", "no scheme"),
        ("node-exporter:9100/metrics", "no path"),
        ("node-exporter", "no port"),
        (":9100", "no host"),
        ("node-exporter:0", "port is not 1-65535"),
        ("node-exporter:65536", "port is not 1-65535"),
        ("node-exporter:http", "port is not 1-65535"),
        ("node-exporter:", "port is not 1-65535"),
        ("::1:9100", "IPv6 address goes in brackets"),
        ("[::1]", "no port after"),
        ("[10.0.0.1]:9100", "not an IPv6 address"),
        ("[::1]9100", "no port after"),
        ("node exporter:9100", "spaces"),
        ("999.1.1.1:9100", "not a DNS name or IP address"),
        ("-node:9100", "not a DNS name or IP address"),
        ("node-.example:9100", "not a DNS name or IP address"),
        ("a..b:9100", "not a DNS name or IP address"),
        ("x" * 64 + ":9100", "not a DNS name or IP address"),
        (9100, "not a string"),
    ],
)
def test_host_port_bad(value, reason):
    with pytest.raises(ValueError) as e:
        check_host_port("fleets[f].staticTargets[0]", value)
    message = str(e.value)
    assert message.startswith(f"fleets[f].staticTargets[0]: {value!r} is not host:port ("), message
    assert reason in message.split("; allowed")[0], message
    assert "allowed: a DNS name or IP address (IPv6 in brackets) and a port 1-65535" in message


@pytest.mark.parametrize(
    "value",
    [
        "https://receive.example.com/api/v1/receive",
        "http://central-receive:19291/api/v1/receive",
        "http://127.0.0.1:19291/api/v1/receive",
        "http://[fd00::1]:19291/api/v1/receive",
        "https://receive.example.com",
        "HTTPS://Receive.Example.com/api/v1/receive",
    ],
)
def test_http_url_ok(value):
    assert check_http_url("fleets[f].remoteWriteUrl", value) == value


@pytest.mark.parametrize(
    "value,reason",
    [
        ("http://", "no host"),
        ("https:///api/v1/receive", "no host"),
        ("https://:443/x", "no host"),
        ("https://receive example.com/api", "spaces"),
        ("https://receive.example.com/api/v1/receive ", "spaces"),
        ("receive:19291/api/v1/receive", "must start with http:// or https://"),
        ("ftp://receive.example.com", "must start with http:// or https://"),
        ("http:/receive", "must start with http:// or https://"),
        ("https://user:pass@receive.example.com/x", "credentials go in remoteWriteAuth"),
        ("https://receive.example.com:99999/x", "port is not 1-65535"),
        ("https://receive.example.com:0/x", "port is not 1-65535"),
        ("https://receive.example.com:https/x", "port is not 1-65535"),
        ("http://[::1/x", "malformed"),
        ("http://-receive-/x", "is not a DNS name or IP address"),
        ("http://999.1.1.1/x", "is not a DNS name or IP address"),
        (5, "not a string"),
    ],
)
def test_http_url_bad(value, reason):
    with pytest.raises(ValueError) as e:
        check_http_url("fleets[f].remoteWriteUrl", value)
    message = str(e.value)
    shown = value.replace("user:pass", "***") if isinstance(value, str) else value
    assert message.startswith(f"fleets[f].remoteWriteUrl: {shown!r} is not an http(s) URL ("), message
    assert reason in message and "allowed: http:// or https://, a host" in message


# -- args mappings and dependencies -------------------------------------------------------------------
@pytest.mark.parametrize(
    "key,meant",
    [("replicationFactor", "replication_factor"), ("ReplicationFactor", "replication_factor"), ("replicas_", "replicas"), ("replica", "replicas"), ("bogus", None)],
)
def test_suggest_key(key, meant):
    assert suggest_key(key, ["replicas", "replication_factor", "retention"]) == meant


def test_check_keys_says_which_key_was_meant():
    with pytest.raises(ValueError, match=r"^f\.walSize: unknown key \(did you mean 'wal_size'\?\); allowed keys: agents, wal_size$"):
        check_keys("f", {"walSize": "1Gi"}, ("agents", "wal_size"))
    with pytest.raises(ValueError, match=r"^f\.zzz: unknown key; allowed keys: agents, wal_size$"):
        check_keys("f", {"zzz": 1}, ("agents", "wal_size"))


def test_check_args():
    assert check_args("XArgs", None, ("a",)) == {}
    given = {"a": 1}
    assert check_args("XArgs", given, ("a",)) == given and check_args("XArgs", given, ("a",)) is not given
    for bad in ("a=1", ["a"], 3):
        with pytest.raises(TypeError, match=r"^XArgs: .* is not a mapping; allowed: a dict with keys a"):
            check_args("XArgs", bad, ("a",))
    with pytest.raises(ValueError, match=r"^XArgs\.A: unknown key \(did you mean 'a'\?\)"):
        check_args("XArgs", {"A": 1}, ("a",))


def test_check_instance():
    assert check_instance("C.dep", 3, int, "an int") == 3
    with pytest.raises(TypeError, match=r"^C\.dep: 'central' is a str, not an int; allowed: an int$"):
        check_instance("C.dep", "central", int, "an int")


def test_url_error_never_repeats_a_password():
    with pytest.raises(ValueError) as e:
        check_http_url("fleets[f].remoteWriteUrl", "https://bat:s3cret@receive.example.com/api/v1/receive")
    assert "s3cret" not in str(e.value) and "bat:" not in str(e.value)
    assert "'https://***@receive.example.com/api/v1/receive'" in str(e.value)
