"""Thanos config renderers: hashrings.json, objstore YAML, endpoint SD, SeaweedFS identities, limits."""

from __future__ import annotations

import json

import pytest
import yaml

from agentstream.config import (
    render_endpoint_sd,
    render_filesystem_objstore,
    render_hashring,
    render_receive_limits,
    render_s3_objstore,
    render_seaweedfs_identities,
)

ENDPOINTS = ["central-receive-0:10901", "central-receive-1:10901", "central-receive-2:10901"]


def test_hashring_parses_and_lists_every_endpoint_in_order():
    rings = json.loads(render_hashring(ENDPOINTS, algorithm="ketama"))
    assert rings == [{"hashring": "default", "tenants": [], "endpoints": ENDPOINTS, "algorithm": "ketama"}]


def test_hashring_endpoints_byte_identical():
    text = render_hashring(ENDPOINTS)
    for e in ENDPOINTS:
        assert json.dumps(e) in text  # no normalisation of the strings


def test_hashring_algorithm_omitted_when_not_given():
    assert "algorithm" not in json.loads(render_hashring(ENDPOINTS))[0]


def test_hashring_tenants_and_name():
    ring = json.loads(render_hashring(ENDPOINTS[:1], name="gold", tenants=["a", "b"], algorithm="hashmod"))[0]
    assert (ring["hashring"], ring["tenants"], ring["algorithm"]) == ("gold", ["a", "b"], "hashmod")


def test_hashring_deterministic():
    assert render_hashring(ENDPOINTS, algorithm="ketama") == render_hashring(list(ENDPOINTS), algorithm="ketama")


@pytest.mark.parametrize(
    "secret",
    ["plainsecret", "with: colon", "#hash", "'quote\"", "0123", "true", "  spaced  "],
)
def test_s3_objstore_round_trips(secret):
    text = render_s3_objstore(bucket="thanos", endpoint="objstore-seaweedfs:8333", access_key="AK", secret_key=secret)
    cfg = yaml.safe_load(text)
    assert cfg["type"] == "S3"
    c = cfg["config"]
    assert c["bucket"] == "thanos"
    assert c["endpoint"] == "objstore-seaweedfs:8333"
    assert c["access_key"] == "AK"
    assert c["secret_key"] == secret
    assert c["insecure"] is True
    assert c["bucket_lookup_type"] == "path"


def test_s3_objstore_secure():
    text = render_s3_objstore(bucket="b", endpoint="s3.amazonaws.com", access_key="a", secret_key="s", insecure=False, region="eu-west-1")
    c = yaml.safe_load(text)["config"]
    assert c["insecure"] is False
    assert c["region"] == "eu-west-1"


def test_filesystem_objstore():
    assert yaml.safe_load(render_filesystem_objstore("/var/thanos/bucket")) == {
        "type": "FILESYSTEM",
        "config": {"directory": "/var/thanos/bucket"},
    }


def test_endpoint_sd():
    addrs = ENDPOINTS + ["central-store-0:10901"]
    assert yaml.safe_load(render_endpoint_sd(addrs)) == {"endpoints": [{"address": a} for a in addrs]}


def test_seaweedfs_identities():
    cfg = json.loads(render_seaweedfs_identities(access_key="AK", secret_key="S\"K"))
    (ident,) = cfg["identities"]
    assert ident["name"] == "thanos"
    assert ident["credentials"] == [{"accessKey": "AK", "secretKey": "S\"K"}]
    assert {"Read", "Write", "List"} <= set(ident["actions"])


def test_receive_limits_default_and_tenants():
    text = render_receive_limits(
        max_concurrency=8,
        request={"size_bytes_limit": 1048576, "samples_limit": 10000},
        tenants={"zeta": {"series_limit": 10}, "alpha": {"size_bytes_limit": 0}},
    )
    assert yaml.safe_load(text) == {
        "write": {
            "global": {"max_concurrency": 8},
            "default": {"request": {"size_bytes_limit": 1048576, "samples_limit": 10000}},
            "tenants": {"alpha": {"request": {"size_bytes_limit": 0}}, "zeta": {"request": {"series_limit": 10}}},
        }
    }
    # Stable order: the same limits always render the same bytes.
    assert text.index("alpha") < text.index("zeta")


def test_receive_limits_minimal():
    # No global section when concurrency is unlimited, and no tenants key.
    assert yaml.safe_load(render_receive_limits()) == {"write": {"default": {"request": {}}}}
