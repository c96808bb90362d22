"""The typed settings mirror the args: one name per setting, in three
spellings (stack key, Python argument, settings attribute)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from agentstream.agent_fleet import AgentFleetArgs, RemoteWriteAuth, ScrapeJob, validate_fleet_args
from agentstream.alerting import AlertingArgs, AlertmanagerArgs
from agentstream.object_store import ObjectStoreArgs
from agentstream.targets.docker import DockerTargetArgs
from agentstream.targets.kubernetes import IngressArgs, KubernetesTargetArgs
from agentstream.receive_cluster import QueryFrontendArgs, QueryFrontendCache, ReceiveClusterArgs, ReceiveLimits
from agentstream.settings import (
    DockerTargetSettings,
    IngressSettings,
    KubernetesTargetSettings,
    AlertingSettings,
    AlertmanagerSettings,
    FleetSettings,
    ObjectStoreSettings,
    RemoteWriteAuthSettings,
    ScrapeJobSettings,
    QueryFrontendCacheSettings,
    QueryFrontendSettings,
    ReceiveLimitsSettings,
    ReceiveSettings,
    frozen_map,
    thaw,
)

# Args that are not settings: dependencies, and a switch that decides
# whether there are settings at all.
NOT_SETTINGS = {"target", "object_store", "receive", "enabled"}


@pytest.mark.parametrize(
    "settings,args",
    [
        (ReceiveSettings, ReceiveClusterArgs),
        (QueryFrontendSettings, QueryFrontendArgs),
        (QueryFrontendCacheSettings, QueryFrontendCache),
        (ReceiveLimitsSettings, ReceiveLimits),
        (FleetSettings, AgentFleetArgs),
        (ScrapeJobSettings, ScrapeJob),
        (RemoteWriteAuthSettings, RemoteWriteAuth),
        (ObjectStoreSettings, ObjectStoreArgs),
        (AlertingSettings, AlertingArgs),
        (AlertmanagerSettings, AlertmanagerArgs),
        (DockerTargetSettings, DockerTargetArgs),
        (KubernetesTargetSettings, KubernetesTargetArgs),
        (IngressSettings, IngressArgs),
    ],
)
def test_every_arg_has_its_attribute_and_nothing_else(settings, args):
    assert {f.name for f in fields(settings)} == set(args.__annotations__) - NOT_SETTINGS


def test_frozen_map_is_deep_and_thaw_undoes_it():
    raw = {"tolerations": [{"key": "a", "operator": "Exists"}], "node_selector": {"zone": "a"}}
    frozen = frozen_map(raw)
    with pytest.raises(TypeError):
        frozen["tolerations"][0]["key"] = "b"  # type: ignore[index]
    assert isinstance(frozen["tolerations"], tuple)
    assert thaw(frozen) == raw and type(thaw(frozen)["tolerations"]) is list


def test_fleet_settings_are_frozen():
    import dataclasses

    s = validate_fleet_args(
        "batmobile",
        {"remote_write_url": "http://r:19291/api/v1/receive", "external_labels": {"region": "eu"},
         "scrape_jobs": [{"name": "node", "targets": ["node:9100"]}]},
        None,
        "docker",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.tenant = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.external_labels["region"] = "us"  # type: ignore[index]
    assert s.scrape_jobs == (ScrapeJobSettings(name="node", targets=("node:9100",), metrics_path="/metrics"),)
