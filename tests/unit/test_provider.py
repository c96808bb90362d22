"""The components as a Pulumi package (agentstream.provider, served by
provider/ through component_provider_host): the schema the host infers, the
engine's inputs mapped back to the Python args, resource references, bad
input, and that a graph built through the provider is the Python API's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.component import ComponentProvider

import agentstream as a
from agentstream import provider as P
from tests.support.stack_runner import StackRun, run_program

REPO = Path(__file__).resolve().parents[2]
TOKENS = [
    "agentstream:index:Target", "agentstream:index:ObjectStore", "agentstream:index:ReceiveCluster",
    "agentstream:index:AgentFleet", "agentstream:index:Alerting", "agentstream:index:SelfMonitoring",
]


@pytest.fixture(scope="module")
def host() -> ComponentProvider:
    return ComponentProvider(P.COMPONENTS, P.PACKAGE, None, P.VERSION)


@pytest.fixture(scope="module")
def schema(host) -> dict:
    return json.loads(host.schema)


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


# -- the schema ------------------------------------------------------------------------
def test_schema_has_the_components_under_their_type_tokens(schema):
    assert schema["name"] == "agentstream" and schema["version"] == P.VERSION
    assert sorted(schema["resources"]) == sorted(TOKENS)
    assert all(r["isComponent"] for r in schema["resources"].values())


def test_the_plugin_version_is_the_package_version():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == P.VERSION
    # Not a resource plugin of Python programs: the Python language host must
    # not go looking for an `agentstream` plugin when a stack imports the package.
    assert P.PLUGIN["resource"] is False and P.PLUGIN["name"] == P.PACKAGE


@pytest.mark.parametrize(
    "token,python_args,dependencies",
    [
        ("agentstream:index:ObjectStore", a.ObjectStoreArgs, {"target": "Target"}),
        ("agentstream:index:ReceiveCluster", a.ReceiveClusterArgs, {"target": "Target", "object_store": "ObjectStore"}),
        ("agentstream:index:AgentFleet", a.AgentFleetArgs, {"target": "Target", "receive": "ReceiveCluster"}),
        ("agentstream:index:Alerting", a.AlertingArgs,
         {"target": "Target", "receive": "ReceiveCluster", "object_store": "ObjectStore"}),
        ("agentstream:index:SelfMonitoring", a.SelfMonitoringArgs,
         {"target": "Target", "receive": "ReceiveCluster", "object_store": "ObjectStore", "alerting": "Alerting"}),
    ],
)
def test_every_python_arg_is_an_input_and_dependencies_are_references(schema, token, python_args, dependencies):
    resource = schema["resources"][token]
    inputs = resource["inputProperties"]
    # A new setting reaches other languages with no provider change.
    assert sorted(inputs) == sorted(camel(k) for k in python_args.__annotations__)
    assert sorted(resource["requiredInputs"]) == sorted(
        camel(k) for k in python_args.__required_keys__
    )
    for key, component in dependencies.items():
        # A reference to the package's own resource: a YAML program passes ${store}.
        assert inputs[camel(key)]["$ref"] == f"/agentstream/v{P.VERSION}/schema.json#/resources/agentstream:index:{component}"
    # The docstrings are the descriptions, for every key.
    assert all(p.get("description") for p in inputs.values()), [k for k, p in inputs.items() if not p.get("description")]


def test_target_takes_the_python_targets_args_as_types(schema):
    target = schema["resources"]["agentstream:index:Target"]
    assert target["inputProperties"]["docker"]["$ref"] == "#/types/agentstream:index:DockerTargetArgs"
    assert target["inputProperties"]["kubernetes"]["$ref"] == "#/types/agentstream:index:KubernetesTargetArgs"
    types = schema["types"]
    # Read through postponed annotations (the targets' modules use them).
    assert sorted(types["agentstream:index:DockerTargetArgs"]["properties"]) == sorted(
        camel(k) for k in a.DockerTargetArgs.__annotations__
    )
    k8s = types["agentstream:index:KubernetesTargetArgs"]["properties"]
    assert sorted(k8s) == sorted(camel(k) for k in a.KubernetesTargetArgs.__annotations__)
    assert k8s["namespace"] == {"description": k8s["namespace"]["description"], "type": "string", "plain": True}
    assert k8s["ingress"]["$ref"] == "#/types/agentstream:index:IngressArgs"
    assert all(p.get("description") for p in k8s.values())


def test_nested_args_are_types_and_outputs_are_typed(schema):
    types = schema["types"]
    for name in ("ReceiveLimits", "RequestLimits", "QueueConfig", "RemoteWriteAuth", "IngressArgs", "QueryFrontendArgs", "QueryFrontendCache"):
        assert f"agentstream:index:{name}" in types, name
    fleet = schema["resources"]["agentstream:index:AgentFleet"]
    assert fleet["inputProperties"]["queueConfig"]["$ref"] == "#/types/agentstream:index:QueueConfig"
    assert types["agentstream:index:QueueConfig"]["properties"]["maxSamplesPerSend"]["type"] == "integer"
    # An Output from another resource is allowed where the Python API takes pulumi.Input.
    assert "plain" not in fleet["inputProperties"]["remoteWriteUrl"]
    agents = fleet["properties"]["agents"]
    assert agents["type"] == "array" and agents["items"]["type"] == "string"
    for token in TOKENS:
        outputs = schema["resources"][token]["properties"]
        assert all(p.get("description") for p in outputs.values()), (token, outputs)
    receive = schema["resources"]["agentstream:index:ReceiveCluster"]["properties"]
    assert set(receive) == {"remoteWriteUrl", "externalRemoteWriteUrl", "queryUrl", "queryDirectUrl", "storeEndpoints", "hashring", "tenantHeader"}
    assert set(schema["resources"]["agentstream:index:ObjectStore"]["properties"]) == {"objstoreConfig", "endpoint", "bucket"}
    # SelfMonitoring watches a list of fleets: references in an array.
    fleets = schema["resources"]["agentstream:index:SelfMonitoring"]["inputProperties"]["fleets"]
    assert fleets["type"] == "array"
    assert fleets["items"]["$ref"] == f"/agentstream/v{P.VERSION}/schema.json#/resources/agentstream:index:AgentFleet"
    # Rule files cross as YAML text (a mapping of Any has no schema type).
    rule_files = schema["resources"]["agentstream:index:Alerting"]["inputProperties"]["ruleFiles"]
    assert rule_files["additionalProperties"]["type"] == "string"


# -- engine inputs -> Python args ------------------------------------------------------------
def test_engine_numbers_come_back_as_ints(host):
    # What the engine sends: camelCase keys, every number a float.
    inputs = {
        "replicas": 3.0,
        "replicationFactor": 2.0,
        "limits": {"maxConcurrency": 4.0, "request": {"seriesLimit": 5000.0}, "tenants": {"team-a": {"samplesLimit": 10.0}}},
        "agentReplicaLabels": ["prometheus_replica"],
        "target": "a Target",  # required by the mapping; not looked at here
    }
    mapped = P._whole_numbers(P.ReceiveClusterArgs, host.map_inputs(inputs, host._component_defs["ReceiveCluster"]))
    assert mapped.pop("target") == "a Target"
    assert mapped == {
        "replicas": 3,
        "replication_factor": 2,
        "limits": {"max_concurrency": 4, "request": {"series_limit": 5000}, "tenants": {"team-a": {"samples_limit": 10}}},
        "agent_replica_labels": ["prometheus_replica"],
    }
    assert type(mapped["replicas"]) is int and type(mapped["limits"]["tenants"]["team-a"]["samples_limit"]) is int
    # Not a whole number: left for the component's own check to refuse.
    assert P._whole_numbers(P.ReceiveClusterArgs, {"replicas": 2.5})["replicas"] == 2.5


# -- through the provider, the same graph as through Python ---------------------------------
def normalized(run: StackRun, transparent: str = "") -> list[tuple]:
    """(type, name, parent name, inputs, depends-on names) per resource, random
    values masked; resources of type ``transparent`` are left out, their
    children hung on their parent."""
    by_urn = {r.urn: r for r in run.resources}

    def parent_of(r):
        p = by_urn.get(r.parent)
        while p is not None and p.type == transparent:
            p = by_urn.get(p.parent)
        return p.name if p is not None else None

    text = json.dumps(
        sorted(
            [r.type, r.name, parent_of(r), r.inputs, sorted(by_urn[d].name for d in r.depends_on if d in by_urn)]
            for r in run.resources
            if r.type != transparent
        ),
        sort_keys=True,
        default=str,
    )
    for v in sorted(run.random_values, key=len, reverse=True):
        text = text.replace(v, "<random>")
    return json.loads(text)


# A user's rule file, as other languages pass it: YAML text.
RULES = "groups:\n- name: mine\n  rules:\n  - alert: Always\n    expr: vector(1)\n"


def python_graph():
    target = a.DockerTarget("t", {"network": "unit-net"})
    store = a.ObjectStore("s", {"engine": "seaweedfs", "target": target})
    receive = a.ReceiveCluster(
        "r", {"replicas": 2, "replication_factor": 2, "limits": {"request": {"series_limit": 5000}}, "target": target, "object_store": store}
    )
    fleet = a.AgentFleet("f", {"agents": 2, "queue_config": {"max_samples_per_send": 500}, "target": target, "receive": receive})
    alerting = a.Alerting("al", {"rule_files": {"mine.yaml": RULES}, "target": target, "receive": receive, "object_store": store})
    meta = a.SelfMonitoring(
        "meta", {"fleets": [fleet], "object_store": store, "alerting": alerting, "target": target, "receive": receive}
    )
    pulumi.export("query_url", receive.query_url)
    pulumi.export("agents", fleet.agents)
    pulumi.export("ruler_url", alerting.ruler_url)
    pulumi.export("meta_agents", meta.agents)


def served_graph(host: ComponentProvider):
    def construct(component: str, name: str, inputs: dict[str, Any]) -> Any:
        # What ComponentProvider.construct does with the engine's inputs; the
        # dependencies are the instances the resource references resolve to.
        return host._components[component](name, host.map_inputs(inputs, host._component_defs[component]), None)

    target = construct("Target", "t", {"docker": {"network": "unit-net"}})
    store = construct("ObjectStore", "s", {"engine": "seaweedfs", "target": target})
    receive = construct(
        "ReceiveCluster", "r",
        {"replicas": 2.0, "replicationFactor": 2.0, "limits": {"request": {"seriesLimit": 5000.0}}, "target": target, "objectStore": store},
    )
    fleet = construct("AgentFleet", "f", {"agents": 2.0, "queueConfig": {"maxSamplesPerSend": 500.0}, "target": target, "receive": receive})
    alerting = construct(
        "Alerting", "al", {"ruleFiles": {"mine.yaml": RULES}, "target": target, "receive": receive, "objectStore": store}
    )
    meta = construct(
        "SelfMonitoring", "meta",
        {"fleets": [fleet], "objectStore": store, "alerting": alerting, "target": target, "receive": receive},
    )
    pulumi.export("query_url", receive.query_url)
    pulumi.export("agents", fleet.agents)
    pulumi.export("ruler_url", alerting.ruler_url)
    pulumi.export("meta_agents", meta.agents)


def test_the_provider_builds_the_python_apis_graph(host):
    python = run_program(python_graph)
    served = run_program(lambda: served_graph(host))
    assert any(r.type == "agentstream:index:SelfMonitoring" for r in served.resources)
    # One resource more: the Target component that holds the DockerTarget.
    assert [r.type for r in served.resources].count("agentstream:index:Target") == 1
    assert len(served.resources) == len(python.resources) + 1
    assert normalized(served, transparent="agentstream:index:Target") == normalized(python)
    assert served.outputs == python.outputs


# -- resource references ---------------------------------------------------------------------
def test_references_resolve_to_the_live_component_and_nothing_else():
    seen = {}

    def program():
        target = P.Target("t", {"docker": {}})
        target.urn.apply(lambda urn: seen.update(urn=urn, live=P._LiveComponents().construct("t", P.Target.pulumi_type, urn) is target))

    run_program(program)
    assert seen["live"] is True
    with pytest.raises(ValueError, match=r"agentstream:index:ObjectStore 'gone': this provider did not build it in this deployment"):
        P._LiveComponents().construct("gone", "agentstream:index:ObjectStore", seen["urn"].replace("::t", "::gone"))


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build,error,needle",
    [
        (lambda: P.Target("t", {}), ValueError, "TargetArgs: neither docker nor kubernetes given; allowed: exactly one of docker, kubernetes"),
        (lambda: P.Target("t", {"docker": {}, "kubernetes": {}}), ValueError, "TargetArgs: docker and kubernetes given"),
        (lambda: P.Target("t", {"docker": {"network": "Bad Name"}}), ValueError, "docker.network: 'Bad Name' is not a valid name"),
        (lambda: P.Target("t", {"kubernetes": {"namespace": "x"}, "ecs": {}}), ValueError, "TargetArgs.ecs: unknown key"),
        # A YAML program passing a string, or a Python target, where a Target resource belongs.
        (lambda: P.ObjectStore("s", {"target": "docker"}), TypeError,
         "ObjectStoreArgs.target: 'docker' is a str, not a Target; allowed: an agentstream:index:Target resource"),
        (lambda: P.ObjectStore("s", {"target": a.DockerTarget("d")}), TypeError,
         "ObjectStoreArgs.target: <agentstream.targets.docker.DockerTarget"),
        (lambda: P.ObjectStore("s", {"engine": "seaweedfs"}), TypeError, "ObjectStoreArgs.target: None is a NoneType, not a Target"),
        (lambda: P.AgentFleet("f", {"target": P.Target("t", {"docker": {}}), "receive": "central"}), TypeError,
         "AgentFleetArgs.receive: 'central' is a str, not a ReceiveCluster"),
        (lambda: P.ReceiveCluster("c", {"target": P.Target("t", {"docker": {}}), "replicas": 2.5}), ValueError,
         "receive.replicas: must be an integer, got 2.5"),
    ],
)
def test_bad_input_registers_nothing_of_the_component(build, error, needle):
    with pytest.raises(error) as e:
        run_program(build)
    assert needle in str(e.value), str(e.value)
    recorded = {(r.type, r.name) for r in e.value.recorded}
    assert not {n for t, n in recorded if t in TOKENS[1:]}, recorded
    # A Target that fails its checks creates neither itself nor its target.
    if "TargetArgs" in needle or "docker.network" in needle:
        assert not recorded
