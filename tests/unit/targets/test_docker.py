"""Docker target: every resource valid against the pulumi-docker schema, and
the conventions (network, ports, health checks, restart, uploads)."""

from __future__ import annotations

import subprocess

import pulumi
import pytest

import agentstream as a
from agentstream import versions
from agentstream.spec import ConfigFile, HealthCheck, Port, Volume, Workload
from agentstream.targets.docker import WAIT_TIMEOUT_SECONDS, docker_cpus, live_writer_script
from tests.support import resources as R
from tests.support.docker_schema import load_schema, schema_path, validate_docker_resource, validate_docker_resources
from tests.support.programs import run_on
from tests.support.stack_runner import RunHooks, _Mocks, docker_engine_with, run_program, run_stack

EXTERNAL = "type: S3\nconfig:\n  bucket: ext\n  endpoint: s3.example.com\n  access_key: AKEXT\n  secret_key: ext-secret-1234\n"
VARIANTS = {
    "default": None,
    "minio": {"agentstream:objectStore": {"engine": "minio"}},
    "filesystem": {"agentstream:objectStore": {"engine": "filesystem"}},
    "external": {"agentstream:objectStore": {"engine": "external"}, "agentstream:objstoreConfig": EXTERNAL},
    "router": {"agentstream:receive": {"replicas": 3, "replicationFactor": 3, "routerReplicas": 2, "queryReplicas": 2}},
}
THANOS_ROLES = ("receive", "router", "query", "store", "compact")


@pytest.fixture(params=sorted(VARIANTS))
def dev(request, stacks):
    return stacks("dev", VARIANTS[request.param])


# -- schema ---------------------------------------------------------------------------
def test_schema_is_found_next_to_the_repo():
    assert schema_path().endswith("shared/schemas/pulumi-docker.schema.json")
    assert "docker:index/container:Container" in load_schema()["resources"]


def test_every_docker_resource_matches_schema(dev):
    docker_resources = [r for r in dev.resources if r.type.startswith("docker:")]
    assert len(docker_resources) > 10
    assert validate_docker_resources(dev.resources) == []


@pytest.mark.parametrize(
    "inputs,needle",
    [
        ({"image": "x", "healthCheck": {}}, "unknown property 'healthCheck'"),
        ({"image": "x", "ports": [{"internal": "80"}]}, "ports[0].internal: expected integer"),
        ({"image": "x", "ports": [{"external": 80}]}, "required property 'internal'"),
        ({"image": "x", "mustRun": "yes"}, "mustRun: expected boolean"),
        ({"image": "x", "envs": "A=1"}, "envs: expected array"),
        ({"image": "x", "uploads": [{"file": "/a", "contents": "x"}]}, "unknown property 'contents'"),
        ({"image": "x", "networksAdvanced": [{"aliases": ["a"]}]}, "required property 'name'"),
        ({"image": "x", "healthcheck": {"retries": "3"}}, "healthcheck.retries: expected integer"),
        ({"image": "x", "labels": [{"label": "a"}]}, "required property 'value'"),
        ({"image": "x", "sysctls": {"a": 1}}, "expected string"),
        ({}, "required property 'image'"),
    ],
)
def test_schema_checker_catches_mistakes(inputs, needle):
    errors = validate_docker_resource("docker:index/container:Container", inputs)
    assert any(needle in e for e in errors), errors


def test_schema_checker_unknown_type():
    assert validate_docker_resource("docker:index/compose:Compose", {}) != []


def test_schema_checker_accepts_unknown_values():
    assert validate_docker_resource("docker:index/container:Container", {"image": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}) == []


# -- published ports ---------------------------------------------------------------
def test_only_query_and_remote_write_published_on_loopback(dev):
    published = []
    for c in R.containers(dev) + R.one_shot_containers(dev):
        for p in c.inputs.get("ports") or []:
            published.append((c.name, p["internal"], p["external"], p["ip"]))
    if R.containers_of(dev, "central-router"):
        rw_owner = "central-router-0"
    else:
        rw_owner = "central-receive-0"
    assert sorted(published) == sorted([("central-query-0", 10902, 10902, "127.0.0.1"), (rw_owner, 19291, 19291, "127.0.0.1")])
    assert all(c.inputs.get("publishAllPorts") is not True for c in dev.of_type(R.CONTAINER))
    assert all(c.inputs.get("networkMode") in (None, "bridge") for c in dev.of_type(R.CONTAINER))


def test_publish_address_configurable(stacks):
    run = stacks("dev", {"agentstream:docker": {"network": "agentstream-dev", "publishAddress": "0.0.0.0"}})
    ips = {p["ip"] for c in R.containers(run) for p in c.inputs.get("ports") or []}
    assert ips == {"0.0.0.0"}


# -- health, restart, wait ----------------------------------------------------------
def test_every_long_running_container_has_healthcheck_and_restart(dev):
    cs = R.containers(dev)
    assert len(cs) >= 10
    for c in cs:
        hc = c.inputs.get("healthcheck")
        assert hc, c.name
        assert hc["tests"][0] == "CMD" and hc["tests"][-1].startswith("http://127.0.0.1:"), c.name
        assert hc["tests"][-1].endswith(("/-/ready", "/healthz", "/minio/health/ready")), c.name
        for k in ("interval", "timeout", "startPeriod"):
            assert hc[k].endswith("s")
        assert hc["retries"] >= 1
        assert c.inputs["restart"] == "unless-stopped", c.name
        assert c.inputs["mustRun"] is True
        # Not the provider's wait (a dependency on the container would wait
        # for its health): the container's own health gate waits.
        assert c.inputs["wait"] is False
        gate = R.health_gate(dev, c)
        assert gate.inputs["container_id"] == c.id and c.urn in gate.depends_on, c.name
        assert gate.inputs["timeout"] == WAIT_TIMEOUT_SECONDS and gate.parent == c.parent
    assert len(dev.of_type(R.HEALTH_GATE)) == len(cs)


def test_every_gate_carries_one_provider_pickled_by_value(dev):
    """The provider is pickled once per process (P5: once per gate cost
    most of a large program's time), stored plain, and loads in a Python
    that cannot import agentstream, as the dynamic provider's process may
    not (infra/ puts components/ on sys.path; its .venv does not install
    the package)."""
    import subprocess
    import sys

    gates = dev.of_type(R.HEALTH_GATE)
    providers = {g.inputs["__provider"] for g in gates}
    assert len(gates) > 5 and len(providers) == 1
    assert not any(p for g in gates for p in g.secret_paths if "__provider" in p)
    script = (
        "import base64, sys, dill\n"
        "sys.modules['agentstream'] = None  # not importable there\n"
        "p = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "olds = {'container_id': 'a', 'name': 'n', 'host': None, 'timeout': 1}\n"
        "d = p.diff('a', olds, {**olds, 'container_id': 'b'})\n"
        "print(type(p).__name__, d.replaces)\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", script], input=providers.pop(), capture_output=True, text=True,
                         cwd="/", timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ContainerHealthyProvider ['container_id']"
    # The control: the same check finds a provider pickled by reference,
    # which needs agentstream importable.
    import base64

    import dill

    from agentstream.targets import docker_health

    by_ref = base64.b64encode(dill.dumps(docker_health.ContainerHealthy)).decode()
    bad = subprocess.run([sys.executable, "-I", "-c", script], input=by_ref, capture_output=True, text=True, cwd="/",
                         timeout=60)
    assert bad.returncode != 0 and "agentstream" in bad.stderr, bad.stderr[-2000:]


def test_health_gate_waits_for_a_healthy_container_and_says_why_not():
    """The gate's provider, on a fake Docker client: it returns once the
    container reports healthy and fails past the timeout naming the
    container, its state and its last checks' output."""
    import docker as docker_py

    from agentstream.targets.docker_health import _provider_class, health_report

    states = iter([{"Status": "running", "Health": {"Status": "starting"}}] * 2 + [{"Status": "running", "Health": {"Status": "healthy"}}])

    class FakeClient:
        def __init__(self, answers):
            self.api = self
            self.answers = answers
            self.asked = 0

        def inspect_container(self, cid):
            self.asked += 1
            return {"State": next(self.answers)}

        def close(self):
            pass

    fake = FakeClient(states)
    provider = _provider_class()()
    props = {"container_id": "abc", "name": "central-receive-0", "host": None, "timeout": 5}
    original = docker_py.from_env
    docker_py.from_env = lambda: fake
    try:
        result = provider.create(props)
        assert result.id == "abc" and result.outs == props and fake.asked == 3
        # The control: a container that never becomes healthy fails the gate.
        unhealthy = {"Status": "running", "Health": {"Status": "unhealthy", "Log": [{"ExitCode": 1, "Output": "wget: can't connect\n"}]}}
        fake = FakeClient(iter([unhealthy] * 1000))
        docker_py.from_env = lambda: fake
        with pytest.raises(RuntimeError, match=r"central-receive-0 is not healthy after 0.3s: state running; health unhealthy; check exit 1: wget: can't connect"):
            provider.create({**props, "timeout": 0.3})
    finally:
        docker_py.from_env = original
    assert health_report({"Status": "exited", "ExitCode": 2}) == "state exited; health none; exit code 2"
    # Only a changed input is a change, and it is a new wait (a replacement).
    assert not provider.diff("abc", props, dict(props)).changes
    moved = provider.diff("abc", props, {**props, "container_id": "def"})
    assert moved.changes and moved.replaces == ["container_id"]
    assert provider.read("abc", props).outs == props


def test_healthcheck_targets_a_listening_port(dev):
    for c in R.containers(dev):
        url = c.inputs["healthcheck"]["tests"][-1]
        port = int(url.split(":")[2].split("/")[0])
        args = " ".join(c.inputs.get("command") or [])
        assert f":{port}" in args or f"={port}" in args, (c.name, url)


def test_one_shot_volume_init_containers(dev):
    for init in R.one_shot_containers(dev):
        if init.name.endswith(("-live-init", "-live-sync")):
            continue  # the live-file writers, below
        assert init.name.endswith("-volume-init")
        assert init.inputs["restart"] == "no"
        assert init.inputs["user"] == "0" and init.inputs["entrypoints"] == ["chown"]
        owner = dev.named(init.name[: -len("-volume-init")])
        assert init.urn in owner.depends_on, "the server waits for its volume to be chowned"
        uid = owner.inputs["user"]
        assert init.inputs["command"][:2] == ["-R", f"{uid}:{uid}"]
        # Its own volumes, not the workload's read-only live files.
        assert init.inputs["volumes"] == [v for v in owner.inputs["volumes"] if not v.get("readOnly")]


def test_restart_policy_configurable(stacks):
    run = stacks("dev", {"agentstream:docker": {"network": "agentstream-dev", "restart": "always", "wait": False}})
    assert {c.inputs["restart"] for c in R.containers(run)} == {"always"}
    assert {c.inputs["wait"] for c in R.containers(run)} == {False}
    assert run.of_type(R.HEALTH_GATE) == []


# -- network -------------------------------------------------------------------------
def test_one_network_with_aliases(dev):
    (net,) = dev.of_type("docker:index/network:Network")
    assert net.inputs["name"] == "agentstream-dev"
    for c in R.containers(dev):
        (attachment,) = c.inputs["networksAdvanced"]
        assert attachment["name"] == "agentstream-dev"
        workload = c.name.rsplit("-", 1)[0]
        assert attachment["aliases"] == [workload, c.name]
        assert c.inputs["hostname"] == c.name


def test_service_alias_reaches_every_instance(stacks):
    run = stacks("dev")
    members = {}
    for c in R.containers(run):
        members.setdefault(c.inputs["networksAdvanced"][0]["aliases"][0], []).append(c.name)
    assert sorted(members["central-receive"]) == ["central-receive-0", "central-receive-1", "central-receive-2"]
    assert sorted(members["batmobile-agent"]) == ["batmobile-agent-0", "batmobile-agent-1"]


# -- images, labels, instance substitution -------------------------------------------
def test_images_pinned_one_remote_image_each(dev):
    images = dev.of_type("docker:index/remoteImage:RemoteImage")
    names = [i.inputs["name"] for i in images]
    assert len(names) == len(set(names))
    assert set(names) <= set(versions.DEFAULT_IMAGES.values())
    for i in images:
        assert i.inputs["keepLocally"] is True
        assert not i.inputs["name"].endswith(":latest")
    assert {c.inputs["image"] for c in dev.of_type(R.CONTAINER)} == set(names)


def test_instance_placeholder_substituted(dev):
    for c in R.containers(dev):
        assert not any("$(INSTANCE)" in x for x in c.inputs.get("command") or []), c.name
        assert f"INSTANCE={c.name}" in c.inputs["envs"]


def test_labels(dev):
    for c in R.containers(dev):
        labels = {x["label"]: x["value"] for x in c.inputs["labels"]}
        assert labels["app.kubernetes.io/instance"] == c.name
        assert labels["app.kubernetes.io/part-of"] == "agentstream"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
        assert labels["app.kubernetes.io/version"] == c.inputs["image"].rsplit(":", 1)[1]
        assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(labels)


def test_every_mount_says_whether_it_is_read_only(dev):
    """Docker reports read_only false for a read-write mount; one left unset
    in the state made `pulumi refresh` report the container as changed."""
    for c in R.containers(dev):
        for v in c.inputs.get("volumes") or []:
            assert isinstance(v.get("readOnly"), bool), (c.name, v)


def test_stateful_containers_get_their_own_volumes(dev):
    for c in R.containers(dev):
        for v in c.inputs.get("volumes") or []:
            vol = [r for r in dev.of_type("docker:index/volume:Volume") if r.inputs["name"] == v["volumeName"]]
            assert len(vol) == 1, v
            if v["volumeName"] == f"{c.name.rsplit('-', 1)[0]}-live":
                assert v.get("readOnly") is True  # the workload's live files, written by the writers
            elif v["volumeName"] != "objstore-bucket":
                assert v["volumeName"].startswith(c.name + "-")


def test_filesystem_bucket_shared_by_receive_store_compact(stacks):
    run = stacks("dev", VARIANTS["filesystem"])
    (bucket,) = [v for v in run.of_type("docker:index/volume:Volume") if v.inputs["name"] == "objstore-bucket"]
    mounted = sorted(c.name for c in R.containers(run) if {"volumeName": "objstore-bucket", "containerPath": "/var/thanos/bucket", "readOnly": False} in (c.inputs.get("volumes") or []))
    assert mounted == ["central-compact-0", "central-receive-0", "central-receive-1", "central-receive-2", "central-store-0"]


# -- secrets -------------------------------------------------------------------------
def test_objstore_never_in_command_or_env(dev):
    secrets = [s for s in R.secret_values(dev) if len(s) >= 8]
    assert secrets
    for c in dev.of_type(R.CONTAINER):
        plain = " ".join((c.inputs.get("command") or []) + (c.inputs.get("entrypoints") or []) + (c.inputs.get("envs") or []))
        for s in secrets:
            assert s not in plain, c.name
            for line in s.splitlines():
                if "secret_key" in line or "access_key" in line:
                    assert line.split(":", 1)[1].strip() not in plain, c.name


# -- DockerTarget directly -------------------------------------------------------------
def test_target_where():
    def program():
        t = a.DockerTarget("docker", {"network": "n1"})
        pulumi.export("svc", t.service_host("w"))
        pulumi.export("inst", t.instance_host("w", "w-1"))
        pulumi.export("tmpl", t.instance_host_template("w"))

    run = run_program(program)
    assert run.outputs == {"svc": "w", "inst": "w-1", "tmpl": "$(INSTANCE)"}
    net = run.named("docker-network")
    assert net.parent == R.component(run, "docker").urn
    assert net.inputs["name"] == "n1"


def demo_workload() -> Workload:
    # Built inside the program: Outputs belong to the program's event loop.
    return Workload(
        name="demo",
        component="demo",
        image="example.com/demo:1.0",
        args=["--id=$(INSTANCE)", "--port=8080"],
        ports=[Port("http", 8080, publish=True, host_port=18080), Port("metrics", 9100)],
        health=HealthCheck(port=8080, start_period=7),
        replicas=2,
        config_files=[ConfigFile("/etc/demo.yml", "a: 1\n"), ConfigFile("/etc/key", pulumi.Output.secret("k3y"), secret=True)],
        volumes=[Volume("data", "/data")],
        env={"B": "2", "A": "1"},
        user="1234",
    )


def test_target_deploys_a_neutral_workload():
    def program(target):
        parent = pulumi.ComponentResource("test:index:Owner", "owner")
        d = target.deploy(demo_workload(), parent=parent)
        pulumi.export("urls", d.urls)

    run = run_on("docker", program)
    assert run.outputs["urls"] == {"http": "http://127.0.0.1:18080"}
    c0, c1 = R.containers_of(run, "demo")
    assert c0.inputs["command"] == ["--id=demo-0", "--port=8080"]
    assert c1.inputs["command"] == ["--id=demo-1", "--port=8080"]
    assert c0.inputs["envs"] == ["INSTANCE=demo-0", "A=1", "B=2"]
    assert c0.inputs["ports"] == [{"ip": "127.0.0.1", "internal": 8080, "external": 18080}]
    assert "ports" not in c1.inputs or not c1.inputs["ports"]
    assert c0.inputs["user"] == "1234"
    assert c0.inputs["healthcheck"]["startPeriod"] == "7s"
    assert c0.inputs["uploads"][0] == {"file": "/etc/demo.yml", "content": "a: 1\n"}
    assert c0.is_secret("uploads.1.content") and not c0.is_secret("uploads.0.content")
    assert c0.inputs["volumes"] == [{"volumeName": "demo-0-data", "containerPath": "/data", "readOnly": False}]
    assert c1.inputs["volumes"] == [{"volumeName": "demo-1-data", "containerPath": "/data", "readOnly": False}]
    owner = [r for r in run.resources if r.type == "test:index:Owner"][0]
    assert all(r.parent == owner.urn for r in run.resources if r.name.startswith("demo-"))
    assert validate_docker_resources(run.resources) == []


@pytest.mark.parametrize(
    "args,field",
    [
        ({"network": "Bad_Net"}, "docker.network"),
        ({"restart": "sometimes"}, "docker.restart"),
        ({"publish_address": "localhost"}, "docker.publishAddress"),
        ({"publish_address": 1}, "docker.publishAddress"),
        ({"publishAddress": "0.0.0.0"}, r"DockerTargetArgs.publishAddress: unknown key \(did you mean 'publish_address'\?\)"),
        ({"createNetwork": False}, r"DockerTargetArgs.createNetwork: unknown key \(did you mean 'create_network'\?\)"),
        ({"netwrok": "x"}, r"DockerTargetArgs.netwrok: unknown key \(did you mean 'network'\?\); allowed keys: network, publish_address"),
    ],
)
def test_target_args_validated_before_registration(args, field):
    with pytest.raises(ValueError, match=field) as e:
        run_program(lambda: a.DockerTarget("docker", args))
    assert e.value.recorded == []


def test_target_args_must_be_a_mapping():
    with pytest.raises(TypeError, match=r"^DockerTargetArgs: 'agentstream' is not a mapping") as e:
        run_program(lambda: a.DockerTarget("docker", "agentstream"))
    assert e.value.recorded == []


def test_healthcheck_uses_the_http_client_the_image_ships(stacks):
    """Busybox-based images (Prometheus, Thanos, our SeaweedFS) have wget; MinIO's image has curl only."""
    run = stacks("dev", VARIANTS["minio"])
    for r in run.of_type("docker:index/container:Container"):
        tests = (r.inputs.get("healthcheck") or {}).get("tests")
        if not tests:
            continue
        expected = "curl" if r.name.startswith("objstore-minio") else "wget"
        assert tests[1] == expected, (r.name, tests)


# -- lifecycle under the real engine ---------------------------------------------------
@pytest.mark.parametrize("seconds,go", [(0, "0s"), (3, "3s"), (59, "59s"), (60, "1m0s"), (90, "1m30s"), (3600, "1h0m0s"), (3661, "1h1m1s")])
def test_go_duration_matches_what_docker_reports_back(seconds, go):
    from agentstream.targets.docker import go_duration

    assert go_duration(seconds) == go


def test_health_durations_are_sent_as_docker_reports_them(dev):
    # Anything else (e.g. "60s" for what Docker reads back as "1m0s") shows as
    # drift on every `pulumi refresh` and an update on every `pulumi up`.
    import re

    for c in R.containers(dev):
        for k in ("interval", "timeout", "startPeriod"):
            v = c.inputs["healthcheck"][k]
            assert re.fullmatch(r"(\d+h)?(\d+m)?\d+s", v), (c.name, k, v)
            assert not re.fullmatch(r"\d{2,}s", v) or int(v[:-1]) < 60, (c.name, k, v)


def test_instances_are_replaced_one_at_a_time(dev):
    """Fixed names need delete-before-replace; each instance waits for the one
    before it, so a replacement rolls instead of taking every instance down."""
    containers = [*R.containers(dev), *R.one_shot_containers(dev)]
    assert all(c.delete_before_replace for c in containers)
    by_name = {c.name: c for c in containers}
    chained = 0
    for c in R.containers(dev):
        stem, _, index = c.name.rpartition("-")
        if index.isdigit() and int(index) > 0:
            # The one before it healthy, not only created.
            assert R.health_gate(dev, by_name[f"{stem}-{int(index) - 1}"]).urn in c.depends_on, c.name
            chained += 1
    assert chained >= 3  # receivers and agents at least


def _instance_edges(run) -> dict[str, bool]:
    """For every instance after the first: does it wait for the one before it
    (created, or healthy)?"""
    by_name = {c.name: c for c in R.containers(run)}
    edges = {}
    for c in R.containers(run):
        stem, _, index = c.name.rpartition("-")
        if index.isdigit() and int(index) > 0 and f"{stem}-{int(index) - 1}" in by_name:
            before = by_name[f"{stem}-{int(index) - 1}"]
            edges[c.name] = bool({before.urn, R.health_gate(run, before).urn} & set(c.depends_on))
    return edges


def test_a_first_deployment_starts_each_workloads_instances_together():
    """On an engine with none of them (a first `pulumi up`), no instance waits
    for another: the chain only orders replacements, and costs a health wait
    per instance. Everything else keeps its order (agents after the write
    tier, so they go first on destroy; servers after their volume's chown)."""
    fresh = run_stack("dev", hooks=docker_engine_with(frozenset()))
    edges = _instance_edges(fresh)
    assert len(edges) >= 3 and not any(edges.values()), edges
    receivers = {c.urn for c in R.containers(fresh) if c.name.startswith("central-receive-")}
    for c in R.containers(fresh):
        if "-agent-" in c.name:
            assert receivers <= set(c.depends_on), c.name
    # The ring's sync writer writes what the seed wrote: it follows the seed,
    # not the receivers.
    sync, seed = fresh.named("central-receive-live-sync"), fresh.named("central-receive-live-init")
    assert seed.urn in sync.depends_on and not receivers & set(sync.depends_on)
    # The control: the same program on an engine that runs the stack chains
    # them, and the sync waits for every receiver.
    running = run_stack("dev")
    assert all(_instance_edges(running).values())
    sync = running.named("central-receive-live-sync")
    assert {R.health_gate(running, c).urn for c in R.containers(running) if c.name.startswith("central-receive-")} <= set(sync.depends_on)


@pytest.mark.parametrize("present", ["central-receive-0", "central-receive-2"])
def test_a_workload_with_any_instance_running_is_chained(present):
    # Whichever instance is there: its workload rolls; the others (none
    # running) still start together.
    run = run_stack("dev", hooks=docker_engine_with(frozenset({present})))
    edges = _instance_edges(run)
    receive = {k: v for k, v in edges.items() if k.startswith("central-receive-")}
    assert receive and all(receive.values()), edges
    assert not any(v for k, v in edges.items() if not k.startswith("central-receive-")), edges


def test_an_engine_that_cannot_be_asked_chains_everything():
    """An answer other than "No such container" (engine unreachable, a
    provider error) keeps the safe order and says why."""

    class Unreachable(_Mocks):
        def docker_engine_containers(self, host):
            raise ConnectionError("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")

    run = run_stack("dev", hooks=RunHooks(mocks=Unreachable))
    edges = _instance_edges(run)
    assert edges and all(edges.values()), edges


def test_query_starts_alongside_receive_and_agents_after_the_write_tier(dev):
    # Query tolerates absent endpoints, so it does not wait for receive.
    # Agents wait for the tier that takes remote write, so that on destroy
    # they go first and their shutdown flush finds receive still running.
    receivers = {c.urn for c in R.containers(dev) if c.name.startswith("central-receive-")}
    routers = {c.urn for c in R.containers(dev) if c.name.startswith("central-router-")}
    write_tier = routers or receivers
    for c in R.containers(dev):
        if c.name.startswith("central-query-"):
            assert not receivers & set(c.depends_on), c.name
        if "-agent-" in c.name:
            assert write_tier <= set(c.depends_on), c.name
            # An order, not a health wait: remote write retries until the
            # write tier answers (issue 11's P1: the agents sat out receive's
            # first health check).
            gates = {g.urn for g in dev.of_type(R.HEALTH_GATE) if g.inputs["name"].startswith(("central-receive-", "central-router-"))}
            assert gates and not gates & set(c.depends_on), c.name
            # The servers, not the ring's one-shot writers: those hold up
            # neither a create nor a destroy.
            one_shots = {w.urn for w in R.one_shot_containers(dev) if w.name.startswith(("central-receive-", "central-router-"))}
            assert one_shots and not one_shots & set(c.depends_on), c.name


@pytest.mark.parametrize("engine", ["seaweedfs", "minio"])
def test_receive_does_not_wait_for_the_object_store_store_and_compactor_do(stacks, engine):
    """Receive ships its first block hours in and retries failed uploads from
    its volume; store and compactor read the bucket as they start."""
    run = stacks("dev", {"agentstream:objectStore": {"engine": engine}})
    objstore = {c.urn for c in R.containers(run) if c.name.startswith("objstore-")}
    assert objstore
    receivers = [c for c in R.containers(run) if c.name.startswith("central-receive-")]
    readers = [c for c in R.containers(run) if c.name.startswith(("central-store-", "central-compact-"))]
    assert len(receivers) == 3 and len(readers) == 2
    for c in receivers:
        assert not objstore & set(c.depends_on), c.name
    gates = {g.urn for g in run.of_type(R.HEALTH_GATE) if g.inputs["name"].startswith("objstore-")}
    assert gates
    for c in readers:
        # Answering, not only created: they read the bucket as they start.
        assert gates <= set(c.depends_on), c.name


def test_docker_honours_requests_and_limits(dev):
    """Limits are container properties on Docker too (memory in MiB, CPUs as a decimal)."""
    receivers = R.containers_of(dev, "central-receive")
    assert receivers
    for c in receivers:
        # ReceiveCluster's receivers: requests 250m / 512Mi, limits 2 / 2Gi.
        assert (c.inputs["memory"], c.inputs["memorySwap"], c.inputs["memoryReservation"], c.inputs["cpus"], c.inputs["cpuShares"]) == (
            2048, 2048, 512, "2.0", 256
        )
    for c in R.containers(dev):
        assert c.inputs["memory"] >= c.inputs["memoryReservation"] > 0, c.name
        assert float(c.inputs["cpus"]) > 0 and c.inputs["cpuShares"] >= 2, c.name


@pytest.mark.parametrize("millicores,expected", [(1000, "1.0"), (2000, "2.0"), (500, "0.5"), (1250, "1.25"), (100, "0.1"), (1, "0.001")])
def test_cpus_written_as_the_provider_reads_them_back(millicores, expected):
    """nanoInt64ToDecimalString in terraform-provider-docker: "1.0" for whole CPUs, trailing zeros trimmed otherwise."""
    assert docker_cpus(millicores) == expected


# -- live files ------------------------------------------------------------------------
def live_workload(ring: str = '["a"]\n') -> Workload:
    w = demo_workload()
    w.config_files.append(ConfigFile("/etc/demo/live/ring.json", ring, live=True, reload_seconds=20))
    return w


def deploy_live(ring: str = '["a"]\n'):
    def program(target):
        parent = pulumi.ComponentResource("test:index:Owner", "owner")
        before = a.DockerTarget("before", {"network": "unit-net-2"})  # something the workload waits for
        target.deploy(live_workload(ring), parent=parent, depends_on=[before])

    return run_on("docker", program)


def test_live_file_reaches_instances_through_a_volume_not_an_upload():
    run = deploy_live()
    (volume,) = [v for v in run.of_type("docker:index/volume:Volume") if v.inputs["name"] == "demo-live"]
    for c in R.containers_of(run, "demo"):
        assert [u["file"] for u in c.inputs["uploads"]] == ["/etc/demo.yml", "/etc/key"], "no live file uploaded"
        assert {"volumeName": "demo-live", "containerPath": "/etc/demo/live", "readOnly": True} in c.inputs["volumes"]
    init, sync = run.named("demo-live-init"), run.named("demo-live-sync")
    for writer in (init, sync):
        # One-shot root containers of the workload's own image (busybox sh),
        # carrying the file at the path the readers see.
        assert writer.inputs["mustRun"] is False and writer.inputs["restart"] == "no" and writer.inputs["attach"] is True
        assert writer.inputs["user"] == "0" and writer.inputs["entrypoints"] == ["sh", "-c"]
        assert writer.inputs["uploads"] == [{"file": "/etc/demo/live/ring.json", "content": '["a"]\n'}]
        assert writer.inputs["volumes"] == [{"volumeName": "demo-live", "containerPath": "/live", "readOnly": False}]
        assert writer.inputs["image"] == R.containers_of(run, "demo")[0].inputs["image"]
        assert writer.delete_before_replace
    # The seed writes only into an empty volume; the sync writer always,
    # atomically (a rename), then waits for the readers to re-read.
    (script,) = init.inputs["command"]
    assert script == (
        "set -e; [ -e /live/ring.json ] || { cp /etc/demo/live/ring.json /live/.ring.json.tmp && "
        "mv -f /live/.ring.json.tmp /live/ring.json; }"
    )
    (script,) = sync.inputs["command"]
    assert script == (
        "set -e; changed=0; cmp -s /etc/demo/live/ring.json /live/ring.json || { cp /etc/demo/live/ring.json "
        "/live/.ring.json.tmp && mv -f /live/.ring.json.tmp /live/ring.json && changed=1; }; "
        "[ $changed = 0 ] || sleep 20"
    )
    assert validate_docker_resources(run.resources) == []


@pytest.mark.parametrize("before, waits", [(None, True), ('["old"]\n', True), ('["a"]\n', False)])
def test_live_sync_script_writes_and_waits_only_for_a_change(tmp_path, before, waits):
    """The sync writer's script, run by a real sh on a scratch copy of its
    paths: a missing or different file is replaced (and it waits for the
    readers); the same file is left alone and it does not wait."""
    src, live = tmp_path / "etc", tmp_path / "live"
    src.mkdir(), live.mkdir()
    (src / "ring.json").write_text('["a"]\n')
    if before is not None:
        (live / "ring.json").write_text(before)
    script = live_writer_script([ConfigFile("/etc/demo/live/ring.json", '["a"]\n', live=True)], seed=False, wait_seconds=7)
    script = script.replace("/etc/demo/live", str(src)).replace("/live", str(live)).replace("sleep 7", "echo waited")
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert (live / "ring.json").read_text() == '["a"]\n'
    assert ("waited" in out) is waits, out


def test_live_file_ordering_seed_before_instances_sync_after_all_of_them():
    run = deploy_live()
    init, sync = run.named("demo-live-init"), run.named("demo-live-sync")
    before = run.named("before-network")  # depending on a component is depending on its children
    # The seed only fills the volume: it runs while what the workload
    # waits for starts; the sync writer follows it.
    assert before.urn not in init.depends_on and before.urn in sync.depends_on
    for c in R.containers_of(run, "demo"):
        # Every instance starts with a file (the seed) ...
        assert init.urn in c.depends_on, c.name
        # ... and the running copy changes only once every instance is up
        # (created with wait: healthy), a new one included.
        assert c.urn in sync.depends_on, c.name
        assert sync.urn not in c.depends_on


def test_changed_live_file_changes_only_the_writers():
    """What makes a new hashring restart no receiver: the instances'
    inputs are byte-identical; only the writers (one-shot) change."""
    old, new = deploy_live('["a"]\n'), deploy_live('["a", "b"]\n')
    for c_old, c_new in zip(R.containers_of(old, "demo"), R.containers_of(new, "demo")):
        assert c_old.inputs == c_new.inputs, c_old.name
    for writer in ("demo-live-init", "demo-live-sync"):
        assert old.named(writer).inputs["uploads"] != new.named(writer).inputs["uploads"]


def test_no_live_volume_without_live_files(dev):
    assert not [v for v in dev.of_type("docker:index/volume:Volume") if v.inputs["name"].endswith("-live")
                and not v.inputs["name"].startswith(("central-receive", "central-router", "meta-agent"))]
    for c in R.containers(dev):
        if not c.name.startswith(("central-receive", "central-router", "meta-agent")):
            assert not any(v["volumeName"].endswith("-live") for v in c.inputs.get("volumes") or []), c.name


@pytest.mark.parametrize(
    "files,needle",
    [
        ([ConfigFile("/a/x", "1", live=True), ConfigFile("/b/y", "2", live=True)], "live files must share one directory"),
        ([ConfigFile("/a/x", "1", live=True), ConfigFile("/a/y", "2")], "/a holds live files, so it cannot also hold ['/a/y']"),
        ([ConfigFile("x", "1", live=True)], "live files must share one directory"),
    ],
)
def test_live_directory_rules(files, needle):
    from agentstream.spec import live_directory

    with pytest.raises(ValueError) as e:
        live_directory(files)
    assert needle in str(e.value)


def test_live_file_cannot_be_secret():
    with pytest.raises(ValueError, match="a live file cannot be secret"):
        ConfigFile("/a/x", "1", live=True, secret=True)
