"""Policy-tested preview: every shipped stack through the whole pack, as the CLI would run it.

``pulumi preview --policy-pack policy/`` for each ``Pulumi.<stack>.yaml``:
the real stack program runs under mocks, the pack runs in its own process
started like the CLI starts it, and the engine's Analyze/AnalyzeStack calls
go to it over gRPC. Two flavours: with every value known (a preview of an
existing stack, or ``pulumi up``), and with provider-computed values unknown
(the first preview of a fresh stack).
"""

from __future__ import annotations

import pytest

from tests.policy.engine import find, known_run, preview_run
from tests.support.stack_runner import load_stack_config, shipped_stacks

import agentstream_policies as P

STACKS = shipped_stacks()
RUNS = {"known": known_run, "preview": preview_run}


def test_all_shipped_stacks_are_covered():
    assert {"dev", "k8s", "central", "edge-batmobile", "edge-batcopter"} <= set(STACKS)


@pytest.mark.parametrize("mode", sorted(RUNS))
@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_passes_the_pack(pack, stack, mode):
    run, resources = RUNS[mode](stack)
    analysis = pack.analyze(resources)
    assert analysis.mandatory == [], analysis.report()
    # No policy gave up because a value was unknown, and no advisory fired:
    # the shipped stacks follow the advisory policies too.
    assert analysis.diagnostics == [], analysis.report()
    # Every policy was run: none reported itself not applicable.
    assert analysis.not_applicable == []
    # The pack really saw the stack: workloads of the right target.
    target = load_stack_config(stack).get("agentstream:target", "docker")
    kinds = {r.type for r in resources}
    if target == "docker":
        assert P.DOCKER_CONTAINER in kinds
    else:
        assert "kubernetes:apps/v1:StatefulSet" in kinds


def test_preview_run_really_has_unknowns(stack_resources):
    """The preview flavour is not the known one in disguise."""
    resources = stack_resources("dev", preview=True)
    receive = find(resources, "central-receive-0")
    assert receive.props["image"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    objstore = next(u for u in receive.props["uploads"] if u["file"] == "/etc/thanos/objstore.yml")
    assert objstore["content"]["value"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # a secret, not yet known
    known = stack_resources("dev")
    objstore = next(u for u in find(known, "central-receive-0").props["uploads"] if u["file"] == "/etc/thanos/objstore.yml")
    assert "secret_key:" in objstore["content"]["value"]  # tagged secret, as the engine sends it


# -- deliberately bad stack configs -------------------------------------------------------------------
def _receive(stack: str, **changes):
    return {"agentstream:receive": {**load_stack_config(stack)["agentstream:receive"], **changes}}


def _only(analysis, policy: str) -> list:
    assert analysis.policies("mandatory") == {policy}, analysis.report()
    found = analysis.of(policy)
    description = next(p.description for p in P.POLICIES if p.name == policy)
    for d in found:
        assert d.level == "mandatory"
        assert d.message.startswith(description), d.message
    return found


@pytest.mark.parametrize("mode", sorted(RUNS))
def test_rf1_on_k8s_is_rejected(pack, mode):
    run, resources = RUNS[mode]("k8s", overrides=_receive("k8s", replicationFactor=1))
    found = _only(pack.analyze(resources), "receive-replication-factor")
    # The k8s stack has a router tier: the routers carry the RF.
    assert [d.urn.rsplit("::", 1)[-1] for d in found] == ["central-router-statefulset"]
    assert "StatefulSet central-router runs Thanos Receive with replication factor 1" in found[0].message
    assert "list stack 'k8s' in allowReplicationFactorOne" in found[0].message


def test_rf1_on_k8s_is_accepted_when_the_config_allows_it(pack):
    run, resources = known_run("k8s", overrides=_receive("k8s", replicationFactor=1))
    config = {
        "receive-replication-factor": {"allowReplicationFactorOne": ["dev", "k8s"]},
        "receive-pod-disruption-budget": {"allowReplicationFactorOne": ["dev", "k8s"]},
    }
    assert pack.analyze(resources, config).mandatory == []


def test_rf1_on_dev_passes_the_default_config_but_not_a_strict_one(pack):
    run, resources = known_run("dev", overrides=_receive("dev", replicationFactor=1))
    assert pack.analyze(resources).mandatory == []  # dev may run RF=1 by default
    strict = pack.analyze(resources, {"receive-replication-factor": {"allowReplicationFactorOne": False}})
    found = _only(strict, "receive-replication-factor")
    assert sorted(d.urn.rsplit("::", 1)[-1] for d in found) == ["central-receive-0", "central-receive-1", "central-receive-2"]


def test_rf1_on_central_with_a_single_receiver_is_rejected(pack):
    run, resources = known_run("central", overrides=_receive("central", replicas=1, replicationFactor=1))
    found = _only(pack.analyze(resources), "receive-replication-factor")
    assert "StatefulSet central-receive runs Thanos Receive with replication factor 1" in found[0].message


@pytest.mark.parametrize("mode", sorted(RUNS))
def test_central_without_write_limits_gets_an_advisory(pack, mode):
    receive = _receive("central")
    del receive["agentstream:receive"]["limits"]
    run, resources = RUNS[mode]("central", overrides=receive)
    analysis = pack.analyze(resources)
    assert analysis.mandatory == [], analysis.report()
    found = analysis.of("receive-write-limits")
    assert [(d.level, d.urn.rsplit("::", 1)[-1]) for d in found] == [("advisory", "central-receive-statefulset")]
    # Made mandatory in the policy config, the same gap blocks the update.
    strict = pack.analyze(resources, {"receive-write-limits": "mandatory"})
    assert [d.level for d in _only(strict, "receive-write-limits")] == ["mandatory"]


@pytest.mark.parametrize("mode", sorted(RUNS))
def test_publish_on_all_interfaces_is_rejected(pack, mode):
    bad = {"agentstream:docker": {"network": "agentstream-dev", "publishAddress": "0.0.0.0"}}
    run, resources = RUNS[mode]("dev", overrides=bad)
    found = _only(pack.analyze(resources), "docker-ports-localhost")
    assert sorted(d.urn.rsplit("::", 1)[-1] for d in found) == ["central-query-0", "central-receive-0"]
    assert any("publishes port 19291 on host address 0.0.0.0" in d.message for d in found)
    # Allowing the address in the policy config lets it through.
    allowed = pack.analyze(resources, {"docker-ports-localhost": {"allowedPublishAddresses": ["127.0.0.1", "0.0.0.0"]}})
    assert allowed.mandatory == []


@pytest.mark.parametrize("mode", sorted(RUNS))
def test_latest_image_is_rejected(pack, mode):
    # infra/settings.py already refuses `latest` in agentstream:images, so
    # take a real run and change the image reference the way a hand-written
    # program could.
    run, resources = RUNS[mode]("dev")
    image = next(r for r in resources if r.type == P.DOCKER_REMOTE_IMAGE and "thanos" in r.props["name"])
    image.props["name"] = "quay.io/thanos/thanos:latest"
    for r in resources:
        if r.type == P.DOCKER_CONTAINER and r.props.get("image") == "quay.io/thanos/thanos:v0.42.5":
            r.props["image"] = "quay.io/thanos/thanos:latest"
    found = _only(pack.analyze(resources), "images-pinned")
    assert image.urn in {d.urn for d in found}
    assert all("'quay.io/thanos/thanos:latest' uses the 'latest' tag" in d.message for d in found)
    # Known run: every Thanos container is flagged too; preview: their image
    # is RemoteImage.image_id, unknown, and the RemoteImage carries the check.
    expected = 1 if mode == "preview" else 1 + len([r for r in resources if r.props.get("image") == "quay.io/thanos/thanos:latest"])
    assert len(found) == expected


def test_latest_image_in_stack_config_is_refused_before_the_pack_runs():
    # By the rule images-pinned applies (one function, components/agentstream/pinning.py), in its words.
    ref = "quay.io/thanos/thanos:latest"
    with pytest.raises(ValueError) as refused:
        known_run("dev", overrides={"agentstream:images": {"thanos": ref}})
    assert str(refused.value).startswith("agentstream:images.thanos: ")
    assert P.image_problem(ref) in str(refused.value)


@pytest.mark.parametrize("mode", sorted(RUNS))
def test_plain_http_remote_write_to_the_internet_is_rejected(pack, mode):
    fleets = [{"name": "batmobile", "agents": 2, "remoteWriteUrl": "http://metrics.wayne-enterprises.example:19291/api/v1/receive"}]
    run, resources = RUNS[mode]("edge-batmobile", overrides={"agentstream:fleets": fleets})
    found = _only(pack.analyze(resources), "remote-write-secure-target")
    assert [d.urn.rsplit("::", 1)[-1] for d in found] == ["batmobile-agent-config"]
    assert "plain http to 'metrics.wayne-enterprises.example'" in found[0].message
    fleets[0]["remoteWriteUrl"] = "https://metrics.wayne-enterprises.example/api/v1/receive"
    run, resources = RUNS[mode]("edge-batmobile", overrides={"agentstream:fleets": fleets})
    assert pack.analyze(resources).mandatory == []


def test_minio_and_filesystem_engines_pass(pack):
    for engine in ("minio", "filesystem"):
        run, resources = known_run("dev", overrides={"agentstream:objectStore": {"engine": engine, "bucket": "thanos"}})
        analysis = pack.analyze(resources)
        assert analysis.mandatory == [], (engine, analysis.report())
