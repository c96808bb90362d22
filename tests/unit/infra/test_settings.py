"""infra/settings.py: stack config -> component args, as a plain function."""

from __future__ import annotations

import os
import sys

import pytest

from tests.support.stack_runner import REPO, load_stack_config, shipped_stacks

sys.path.insert(0, os.path.join(REPO, "infra"))
import settings  # noqa: E402


def raw(stack):
    return {k.split(":", 1)[1]: v for k, v in load_stack_config(stack).items()}


@pytest.mark.parametrize("stack", shipped_stacks())
def test_shipped_stack_files_parse(stack):
    s = settings.parse(raw(stack))
    assert s["target"] in settings.TARGETS and s["role"] in settings.ROLES
    for f in s["fleets"]:
        assert set(f) <= set(settings.FLEET_KEYS.values())


def test_camel_case_keys_become_snake_case():
    s = settings.parse({"receive": {"replicationFactor": 2, "routerReplicas": 1}, "fleets": [{"name": "a", "scrapeInterval": "5s", "externalLabels": {"x": "y"}}], "objectStore": {"storageSize": "1Gi"}})
    assert s["receive"] == {"replication_factor": 2, "router_replicas": 1}
    assert s["fleets"] == [{"name": "a", "scrape_interval": "5s", "external_labels": {"x": "y"}}]
    assert s["object_store"] == {"storage_size": "1Gi"}


def test_nested_camel_case_ingress_and_verbatim_limits():
    s = settings.parse({
        "target": "kubernetes",
        "kubernetes": {"ingress": {"host": "r.example.com", "className": "nginx", "tlsSecretName": "r-tls", "annotations": {"a/b": "c"}}},
        # Thanos' own limits-file keys pass through unchanged.
        "receive": {"limits": {"request": {"series_limit": 10}}},
    })
    assert s["kubernetes"]["ingress"] == {"host": "r.example.com", "class_name": "nginx", "tls_secret_name": "r-tls", "annotations": {"a/b": "c"}}
    assert s["receive"]["limits"] == {"request": {"series_limit": 10}}


def test_central_endpoint():
    assert settings.parse({})["central_endpoint"] == "internal"
    edge = {"role": "edge", "centralStack": "org/agentstream/central", "fleets": [{"name": "a"}]}
    assert settings.parse({**edge, "centralEndpoint": "external"})["central_endpoint"] == "external"


def test_remote_write_secret_reaches_only_fleets_with_auth():
    s = settings.parse({
        "role": "edge", "centralStack": "o/p/central", "centralEndpoint": "external", "remoteWriteSecret": "1234",
        "fleets": [{"name": "a", "remoteWriteAuth": {"type": "basic", "username": "a"}}, {"name": "b"}],
    })
    assert s["fleets"][0]["remote_write_auth"] == {"type": "basic", "username": "a", "secret": "1234"}
    assert "remote_write_auth" not in s["fleets"][1]
    assert "remoteWriteSecret" in settings.STRING_KEYS  # "1234" is read verbatim, not as a number


def test_defaults():
    s = settings.parse({})
    assert (s["target"], s["role"], s["fleets"], s["images"]) == ("docker", "all", [], {})


def test_objstore_config_goes_to_the_object_store():
    s = settings.parse({"objectStore": {"engine": "external"}, "objstoreConfig": "type: S3\n"})
    assert s["object_store"]["external_config"] == "type: S3\n"


def test_edge_with_remote_write_url_needs_no_central_stack():
    s = settings.parse({"role": "edge", "fleets": [{"name": "a", "remoteWriteUrl": "https://x/api/v1/receive"}]})
    assert s["central_stack"] is None


@pytest.mark.parametrize("image", ["quay.io/thanos/thanos:v0.42.5", "localhost:5000/thanos:v1", "quay.io/thanos/thanos@sha256:" + "a" * 64])
def test_pinned_images_accepted(image):
    assert settings.parse({"images": {"thanos": image}})["images"] == {"thanos": image}


@pytest.mark.parametrize("image", ["quay.io/thanos/thanos:latest", "thanos", "localhost:5000/thanos", "quay.io/thanos/thanos:", 42])
def test_unpinned_images_refused(image):
    with pytest.raises(ValueError, match="agentstream:images.thanos"):
        settings.parse({"images": {"thanos": image}})


@pytest.mark.parametrize("section", ["receive", "objectStore", "docker"])
def test_sections_must_be_mappings(section):
    with pytest.raises(ValueError, match=f"agentstream:{section}: must be a mapping"):
        settings.parse({section: ["x"]})


def test_fleet_needs_a_name():
    with pytest.raises(ValueError, match=r"agentstream:fleets\[0\].name: required"):
        settings.parse({"fleets": [{"agents": 1}]})


def test_docker_create_network_is_a_boolean():
    assert settings.parse({"docker": {"createNetwork": False}})["docker"]["create_network"] is False
    with pytest.raises(ValueError, match=r"agentstream:docker.createNetwork: 'no' is not allowed; allowed values: true, false"):
        settings.parse({"docker": {"createNetwork": "no"}})


def test_docker_edge_on_central_internal_endpoint_joins_its_network():
    edge = {"role": "edge", "centralStack": "organization/agentstream/central", "fleets": [{"name": "gotham"}]}
    with pytest.raises(ValueError, match=r"agentstream:docker.createNetwork: an edge writing to central's internal"):
        settings.parse(edge)
    ok = settings.parse({**edge, "docker": {"network": "central-net", "createNetwork": False}})
    assert ok["docker"] == {"network": "central-net", "create_network": False}
    # Written to central's published (external) port instead: its own network is fine.
    settings.parse({**edge, "centralEndpoint": "external"})
