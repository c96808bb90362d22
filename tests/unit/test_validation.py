"""The shared checks in agentstream.validation, and pinned versions."""

from __future__ import annotations

import re

import pytest

from agentstream import versions
from agentstream.validation import (
    check_choice,
    check_duration,
    check_int,
    check_label_name,
    check_labels,
    check_name,
    check_port,
    check_unique,
    duration_seconds,
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
    assert set(versions.DEFAULT_IMAGES) == {"prometheus", "thanos", "seaweedfs", "minio"}
    for name, image in versions.DEFAULT_IMAGES.items():
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", image
        assert "/" in repo
    assert versions.PROMETHEUS_IMAGE.endswith(":" + versions.PROMETHEUS_VERSION)
    assert versions.THANOS_IMAGE.endswith(":" + versions.THANOS_VERSION)
    assert re.fullmatch(r"v3\.\d+\.\d+", versions.PROMETHEUS_VERSION)
    assert re.fullmatch(r"v0\.\d+\.\d+", versions.THANOS_VERSION)
    assert versions.MINIO_VERSION == "RELEASE.2025-10-15T17-29-55Z"  # the last community release


@pytest.mark.parametrize(
    "image",
    ["quay.io/thanos/thanos:v0.42.5", "localhost:5000/team/prometheus:v3.16.0", "busybox@sha256:" + "a" * 64],
)
def test_check_image_accepts_pinned(image):
    from agentstream.validation import check_image

    assert check_image("images.x", image) == image


@pytest.mark.parametrize("image", ["thanos", "quay.io/thanos/thanos:latest", "localhost:5000/thanos", "a b:1"])
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
