"""AgentFleet on both targets, constructed directly under mocks."""

from __future__ import annotations

import pulumi
import pytest
import yaml

import agentstream as a
from agentstream import versions
from agentstream.agent_fleet import validate_fleet_args
from agentstream.config.prometheus import DEFAULT_QUEUE_CONFIG
from agentstream.receive_cluster import validate_receive_args
from tests.support import resources as R
from tests.support.programs import K8S_NAMESPACE, run_on

NS = K8S_NAMESPACE


def build(fleet_args=None, receive_args=None, with_receive=True, name="batmobile"):
    def program(target):
        rc = a.ReceiveCluster("central", {**(receive_args or {"replicas": 1}), "target": target}) if with_receive else None
        fleet = a.AgentFleet(name, {**(fleet_args or {}), "target": target, "receive": rc})
        pulumi.export("agents", fleet.agents)
        pulumi.export("fleet_remote_write_url", fleet.remote_write_url)
        if rc is not None:
            pulumi.export("remote_write_url", rc.remote_write_url)

    return program


def agent_configs(run, kind, workload="batmobile-agent"):
    """(config text, args, env INSTANCE per agent) as each agent sees them."""
    if kind == "docker":
        out = []
        for c in R.containers_of(run, workload):
            env = dict(e.split("=", 1) for e in c.inputs["envs"])
            out.append((R.upload(c, "/etc/prometheus/prometheus.yml"), c.inputs["command"], env["INSTANCE"]))
        return out
    sts = R.k8s_workload(run, workload)
    text, obj, _ = R.k8s_file(run, sts, "/etc/prometheus/prometheus.yml")
    assert obj.inputs["kind"] == "ConfigMap"
    env = R.env_of(R.main_container(sts))
    assert env["INSTANCE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    return [(text, R.main_container(sts)["args"], pod) for pod in R.statefulset_pods(sts)]


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_graph_and_names(kind):
    run = run_on(kind, build({"agents": 3}))
    comp = R.component(run, "batmobile")
    kids = run.children(comp)
    assert kids and all(r.name.startswith("batmobile-") for r in kids)
    assert run.outputs["agents"] == ["batmobile-agent-0", "batmobile-agent-1", "batmobile-agent-2"]
    if kind == "docker":
        assert [c.name for c in R.containers_of(run, "batmobile-agent")] == run.outputs["agents"]
        assert all(c.parent == comp.urn for c in R.containers_of(run, "batmobile-agent"))
    else:
        sts = R.k8s_workload(run, "batmobile-agent")
        assert sts.inputs["kind"] == "StatefulSet" and sts.inputs["spec"]["replicas"] == 3
        assert sts.parent == comp.urn


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_agent_config_wiring(kind):
    run = run_on(kind, build({"agents": 2, "scrape_interval": "5s"}))
    configs = agent_configs(run, kind)
    assert len(configs) == 2
    texts = {t for t, _, _ in configs}
    assert len(texts) == 1, "agents of a fleet share one byte-identical config"
    cfg = yaml.safe_load(texts.pop())
    for forbidden in ("rule_files", "alerting", "remote_read"):
        assert forbidden not in cfg
    (rw,) = cfg["remote_write"]
    receive_host = "central-receive" if kind == "docker" else f"central-receive.{NS}.svc.cluster.local"
    assert rw["url"] == run.outputs["remote_write_url"] == f"http://{receive_host}:19291/api/v1/receive"
    assert rw["protobuf_message"] == "prometheus.WriteRequest"
    assert rw["queue_config"] == DEFAULT_QUEUE_CONFIG
    assert rw["headers"] == {"THANOS-TENANT": "batmobile"}
    assert cfg["global"]["external_labels"] == {"cluster": "batmobile", "prometheus_replica": "${INSTANCE}"}
    assert cfg["global"]["scrape_interval"] == "5s"
    hosts = [f"batmobile-agent-{i}" if kind == "docker" else f"batmobile-agent-{i}.batmobile-agent.{NS}.svc.cluster.local" for i in range(2)]
    assert cfg["scrape_configs"][0]["static_configs"][0]["targets"] == [f"{h}:9090" for h in hosts]
    # each agent's ${INSTANCE} is its own name: distinct replica labels
    assert sorted(inst for _, _, inst in configs) == ["batmobile-agent-0", "batmobile-agent-1"]
    for _, args, _ in configs:
        assert "--agent" in args
        assert R.flag(args, "config.file") == "/etc/prometheus/prometheus.yml"
        assert R.flag(args, "storage.agent.path") == "/prometheus"
        assert R.flag(args, "storage.agent.retention.max-time") == "4h"
        assert not R.flags(args, "storage.tsdb.path")
    has_sd = any(j.get("kubernetes_sd_configs") for j in cfg["scrape_configs"])
    assert has_sd == (kind == "kubernetes")


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_wal_on_a_volume(kind):
    run = run_on(kind, build({"agents": 2, "wal_size": "3Gi"}))
    if kind == "docker":
        for c in R.containers_of(run, "batmobile-agent"):
            assert c.inputs["volumes"] == [{"volumeName": f"{c.name}-wal", "containerPath": "/prometheus", "readOnly": False}]
            assert run.named(f"{c.name}-wal").type == "docker:index/volume:Volume"
    else:
        sts = R.k8s_workload(run, "batmobile-agent")
        mounts = {m["name"]: m["mountPath"] for m in R.main_container(sts)["volumeMounts"]}
        assert mounts["wal"] == "/prometheus"
        (claim,) = sts.inputs["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "wal"
        assert claim["spec"]["resources"]["requests"]["storage"] == "3Gi"


def test_kubernetes_discovery_rbac_only_with_sd():
    run = run_on("kubernetes", build({"agents": 1}))
    role = R.k8s_get(run, "ClusterRole", f"{NS}-batmobile-agent-discovery")
    verbs = {v for rule in role.inputs["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}
    binding = R.k8s_get(run, "ClusterRoleBinding", f"{NS}-batmobile-agent-discovery")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "batmobile-agent", "namespace": NS}]
    assert R.pod_spec(R.k8s_workload(run, "batmobile-agent"))["automountServiceAccountToken"] is True

    run = run_on("kubernetes", build({"agents": 1, "kubernetes_sd": False}))
    assert R.k8s_kind(run, "ClusterRole") == []
    assert R.pod_spec(R.k8s_workload(run, "batmobile-agent"))["automountServiceAccountToken"] is False


def test_custom_settings_reach_config():
    queue = {"capacity": 2500, "max_shards": 4, "retry_on_http_429": True}
    run = run_on(
        "docker",
        build(
            {"cluster": "gotham", "external_labels": {"region": "eu"}, "tenant": "wayne", "queue_config": queue, "static_targets": ["node:9100"], "wal_retention": "8h"},
            receive_args={"replicas": 1, "tenant_header": "X-Scope-OrgID"},
        ),
    )
    (text, args, _) = agent_configs(run, "docker")[0]
    cfg = yaml.safe_load(text)
    assert cfg["global"]["external_labels"] == {"cluster": "gotham", "region": "eu", "prometheus_replica": "${INSTANCE}"}
    rw = cfg["remote_write"][0]
    assert rw["headers"] == {"X-Scope-OrgID": "wayne"}
    # The keys given override the defaults; the rest stay explicit.
    assert rw["queue_config"] == {**DEFAULT_QUEUE_CONFIG, **queue}
    assert {"job_name": "static", "static_configs": [{"targets": ["node:9100"]}]} in cfg["scrape_configs"]
    assert R.flag(args, "storage.agent.retention.max-time") == "8h"


def test_standalone_fleet_with_remote_write_url():
    url = "https://central.example.com/api/v1/receive"
    run = run_on("docker", build({"remote_write_url": url}, with_receive=False))
    assert run.outputs["fleet_remote_write_url"] == url
    cfg = yaml.safe_load(agent_configs(run, "docker")[0][0])
    assert cfg["remote_write"][0]["url"] == url
    assert cfg["remote_write"][0]["headers"] == {"THANOS-TENANT": "batmobile"}


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_explicit_url_wins_over_the_receive_cluster(kind):
    url = "https://proxy.example.com/api/v1/receive"
    run = run_on(kind, build({"remote_write_url": url}))
    assert run.outputs["fleet_remote_write_url"] == url
    assert yaml.safe_load(agent_configs(run, kind)[0][0])["remote_write"][0]["url"] == url


def test_image_pinned_and_overridable():
    run = run_on("docker", build({}))
    assert R.containers_of(run, "batmobile-agent")[0].inputs["image"] == versions.PROMETHEUS_IMAGE
    run = run_on("docker", build({"image": "quay.io/prometheus/prometheus:v3.5.0"}))
    assert R.containers_of(run, "batmobile-agent")[0].inputs["image"] == "quay.io/prometheus/prometheus:v3.5.0"


# -- remote-write auth ------------------------------------------------------------------
SECRET_FILE = "/etc/prometheus/secrets/remote-write"


def secret_file_of(run, kind):
    """(content, is it secret) of the agents' remote-write secret file."""
    if kind == "docker":
        found = set()
        for c in R.containers_of(run, "batmobile-agent"):
            i = R.upload_index(c, SECRET_FILE)
            found.add((c.inputs["uploads"][i]["content"], c.is_secret(f"uploads.{i}.content")))
        assert len(found) == 1
        return found.pop()
    content, obj, path = R.k8s_file(run, R.k8s_workload(run, "batmobile-agent"), SECRET_FILE)
    return content, obj.inputs["kind"] == "Secret" and obj.is_secret(path)


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
@pytest.mark.parametrize(
    "auth,section",
    [
        ({"type": "bearer", "secret": "t0ken-abc"}, {"authorization": {"type": "Bearer", "credentials_file": SECRET_FILE}}),
        ({"type": "basic", "username": "batmobile", "secret": "pa55-xyz"}, {"basic_auth": {"username": "batmobile", "password_file": SECRET_FILE}}),
    ],
)
def test_remote_write_auth_reaches_agents_as_a_secret_file(kind, auth, section):
    # Given as plain text on purpose: the fleet marks it secret itself.
    fleet = {"agents": 2, "remote_write_url": "https://receive.example.com/api/v1/receive", "remote_write_auth": auth}
    run = run_on(kind, build(fleet, with_receive=False))
    for text, _, _ in agent_configs(run, kind):
        rw = yaml.safe_load(text)["remote_write"][0]
        assert {k: rw[k] for k in section} == section
        assert auth["secret"] not in text
    assert secret_file_of(run, kind) == (auth["secret"], True)
    # Nowhere in plain text: not in any resource's non-secret inputs.
    for r in run.resources:
        if auth["secret"] in str(r.inputs):
            assert r.secret_paths, f"{r.name} holds the remote-write secret unmarked"


# -- validation -------------------------------------------------------------------------
RECEIVE = validate_receive_args({})


@pytest.mark.parametrize(
    "args,receive,kind,field,allowed",
    [
        ({"agents": 0}, RECEIVE, "docker", "fleets[f].agents", "between 1 and 32"),
        ({"agents": 33}, RECEIVE, "docker", "fleets[f].agents", "between 1 and 32"),
        ({"replica_label": "bad-label"}, RECEIVE, "docker", "fleets[f].replicaLabel", "[a-zA-Z_]"),
        ({"replica_label": "__reserved"}, RECEIVE, "docker", "fleets[f].replicaLabel", "not starting with '__'"),
        ({"replica_label": "replica"}, RECEIVE, "docker", "fleets[f].replicaLabel", "prometheus_replica"),
        ({"external_labels": {"9x": "v"}}, RECEIVE, "docker", "fleets[f].externalLabels.9x", "[a-zA-Z_]"),
        ({"external_labels": {"region": ""}}, RECEIVE, "docker", "fleets[f].externalLabels.region", "non-empty"),
        ({"external_labels": {"cluster": "x"}}, RECEIVE, "docker", "fleets[f].externalLabels.cluster", "other label names"),
        ({"external_labels": {"receive_replica": "x"}}, RECEIVE, "docker", "fleets[f].externalLabels", "receive_replica"),
        ({"external_labels": {"tenant_id": "x"}}, RECEIVE, "docker", "fleets[f].externalLabels", "tenant_id"),
        ({"replica_label": "receive_replica"}, RECEIVE, "docker", "fleets[f].replicaLabel", "receive_replica"),
        ({"scrape_interval": "15"}, RECEIVE, "docker", "fleets[f].scrapeInterval", "Prometheus duration"),
        ({"wal_retention": "0s"}, RECEIVE, "docker", "fleets[f].walRetention", "Prometheus duration"),
        ({"static_targets": ["nohostport"]}, RECEIVE, "docker", "fleets[f].staticTargets[0]", "host:port"),
        ({"static_targets": ["h:99999"]}, RECEIVE, "docker", "fleets[f].staticTargets[0]", "host:port"),
        ({"kubernetes_sd": True}, RECEIVE, "docker", "fleets[f].kubernetesSd", "kubernetes target"),
        ({"queue_config": {"capacityy": 1}}, RECEIVE, "docker", "fleets[f].queueConfig", "allowed keys"),
        ({"queue_config": {"capacity": 0}}, RECEIVE, "docker", "fleets[f].queueConfig.capacity", "integers >= 1"),
        ({"queue_config": {"max_shards": "4"}}, RECEIVE, "docker", "fleets[f].queueConfig.max_shards", "integer"),
        ({"queue_config": {"min_shards": 5, "max_shards": 4}}, RECEIVE, "docker", "fleets[f].queueConfig.min_shards", "1 to 4"),
        ({"queue_config": {"max_backoff": "5"}}, RECEIVE, "docker", "fleets[f].queueConfig.max_backoff", "Prometheus duration"),
        ({"queue_config": {"retry_on_http_429": "yes"}}, RECEIVE, "docker", "fleets[f].queueConfig.retry_on_http_429", "true, false"),
        ({"queue_config": []}, RECEIVE, "docker", "fleets[f].queueConfig", "mapping"),
        # Receive would refuse (413, never retried) every full batch.
        ({}, validate_receive_args({"limits": {"request": {"samples_limit": 1000}}}), "docker",
         "fleets[f].queueConfig.max_samples_per_send", "1 to 1000"),
        ({"queue_config": {"max_samples_per_send": 600}},
         validate_receive_args({"limits": {"request": {"series_limit": 5000}, "tenants": {"f": {"series_limit": 500}}}}),
         "docker", "fleets[f].queueConfig.max_samples_per_send", "series_limit (500) for tenant 'f'"),
        ({}, None, "docker", "fleets[f].remoteWriteUrl", "required"),
        ({"remote_write_auth": {"type": "oauth", "secret": "x"}}, RECEIVE, "docker", "fleets[f].remoteWriteAuth.type", "bearer, basic"),
        ({"remote_write_auth": {"type": "basic", "secret": "x"}}, RECEIVE, "docker", "fleets[f].remoteWriteAuth.username", "required for basic"),
        ({"remote_write_auth": {"type": "basic", "username": "a:b", "secret": "x"}}, RECEIVE, "docker", "fleets[f].remoteWriteAuth.username", "without ':'"),
        ({"remote_write_auth": {"type": "bearer", "username": "u", "secret": "x"}}, RECEIVE, "docker", "fleets[f].remoteWriteAuth.username", "use type basic"),
        ({"remote_write_auth": {"type": "bearer"}}, RECEIVE, "docker", "agentstream:remoteWriteSecret", "pulumi config set --secret"),
        ({"remote_write_auth": {"type": "bearer", "token": "x"}}, RECEIVE, "docker", "fleets[f].remoteWriteAuth.token", "type, username, secret"),
        ({"remote_write_auth": "bearer"}, RECEIVE, "docker", "fleets[f].remoteWriteAuth", "mapping"),
        ({"remote_write_url": "ftp://x"}, None, "docker", "fleets[f].remoteWriteUrl", "http://"),
        ({"remote_write_url": "https:///api/v1/receive"}, None, "docker", "fleets[f].remoteWriteUrl", "no host"),
        ({"remote_write_url": "http://receive :19291/"}, RECEIVE, "docker", "fleets[f].remoteWriteUrl", "spaces"),
        ({"remote_write_url": 19291}, None, "docker", "fleets[f].remoteWriteUrl", "not a string"),
        ({"static_targets": ["https://node:9100"]}, RECEIVE, "docker", "fleets[f].staticTargets[0]", "no scheme"),
        ({"static_targets": ["node:9100/metrics"]}, RECEIVE, "kubernetes", "fleets[f].staticTargets[0]", "no path"),
        ({"static_targets": ["ok:1", "::1:9100"]}, RECEIVE, "docker", "fleets[f].staticTargets[1]", "in brackets"),
        ({"static_targets": [9100]}, RECEIVE, "docker", "fleets[f].staticTargets[0]", "not a string"),
        ({"tenant": "a/b"}, RECEIVE, "docker", "fleets[f].tenant", "not a valid Thanos tenant"),
        ({"tenant": "..", "remote_write_url": "http://r:1/x"}, None, "docker", "fleets[f].tenant", "other than '.' and '..'"),
        ({"wal_size": "5 Gi"}, RECEIVE, "kubernetes", "fleets[f].walSize", "positive Kubernetes quantity"),
        ({"wal_size": "0"}, RECEIVE, "docker", "fleets[f].walSize", "positive Kubernetes quantity"),
        ({"scrape_interval": "0m"}, RECEIVE, "docker", "fleets[f].scrapeInterval", "zero duration"),
        ({"wal_retention": "0d"}, RECEIVE, "docker", "fleets[f].walRetention", "above zero"),
        ({"queue_config": {"max_backoff": "0s"}}, RECEIVE, "docker", "fleets[f].queueConfig.max_backoff", "zero duration"),
        ({"replica_label": "cluster"}, None, "docker", "fleets[f].replicaLabel", "cluster label"),
        ({"replica_label": "zone", "external_labels": {"zone": "a"}}, None, "docker", "fleets[f].replicaLabel", "externalLabels key"),
        # The Python API: unknown keys, camelCase spellings of real ones.
        ({"replicaLabel": "x"}, RECEIVE, "docker", "AgentFleetArgs.replicaLabel", "did you mean 'replica_label'?"),
        ({"walsize": "1Gi"}, RECEIVE, "docker", "AgentFleetArgs.walsize", "did you mean 'wal_size'?"),
        ({"scrape_intervall": "5s"}, RECEIVE, "docker", "AgentFleetArgs.scrape_intervall", "did you mean 'scrape_interval'?"),
        ({"bogus": 1}, RECEIVE, "docker", "AgentFleetArgs.bogus: unknown key;", "allowed keys: agents, cluster"),
    ],
)
def test_validation(args, receive, kind, field, allowed):
    with pytest.raises(ValueError) as e:
        validate_fleet_args("f", args, receive, kind)
    assert field in str(e.value) and allowed in str(e.value), str(e.value)


def test_limits_that_fit_the_batches_are_accepted():
    # Unlimited (0), a default above the batch, and a tenant override for
    # another tenant do not constrain this fleet.
    receive = validate_receive_args(
        {"limits": {"request": {"samples_limit": 2000, "series_limit": 0}, "tenants": {"other": {"samples_limit": 10}}}}
    )
    assert validate_fleet_args("f", {}, receive, "docker").queue_config["max_samples_per_send"] == 2000
    # A fleet whose tenant has a tighter limit fits by sending smaller batches.
    receive = validate_receive_args({"limits": {"tenants": {"wayne": {"samples_limit": 500}}}})
    a = validate_fleet_args("f", {"tenant": "wayne", "queue_config": {"max_samples_per_send": 500}}, receive, "docker")
    assert a.queue_config["max_samples_per_send"] == 500


@pytest.mark.parametrize("name", ["Bat", "bat_mobile", "-x", "x" * 41, ""])
def test_bad_fleet_name(name):
    with pytest.raises(ValueError, match="fleet.name"):
        validate_fleet_args(name, {}, RECEIVE, "docker")


def test_invalid_fleet_registers_no_fleet():
    with pytest.raises(ValueError, match="agents") as e:
        run_on("docker", build({"agents": 0}))
    assert not [r for r in e.value.recorded if r.name.startswith("batmobile")]


def test_valid_values_accepted():
    a_ = validate_fleet_args(
        "f",
        {
            "static_targets": ["node:9100", "10.0.0.1:9100", "[fd00::1]:9100", "my_exporter:9100"],
            "tenant": "528d0490-8720-4478-aa29-819d90fc9a9f",
            "wal_size": "1.5Gi",
            "replica_label": "agent",
            "external_labels": {"region": "eu"},
            "remote_write_url": "https://receive.example.com:8443/api/v1/receive",
            "queue_config": {"sample_age_limit": "0s"},  # 0: no age limit, Prometheus' default
        },
        None,
        "kubernetes",
    )
    assert a_.queue_config["sample_age_limit"] == "0s"
    # A remote-write URL known only at deploy time (another stack's output) is taken as is.
    def program(target):
        fleet = a.AgentFleet("f", {"remote_write_url": pulumi.Output.from_input("http://later:19291/api/v1/receive"), "target": target})
        pulumi.export("url", fleet.remote_write_url)

    assert run_on("docker", program).outputs["url"] == "http://later:19291/api/v1/receive"


def fleet_recorded(recorded, name="batmobile"):
    return [r for r in recorded if r.name.startswith(name)]


@pytest.mark.parametrize(
    "target_arg,receive_arg,field,allowed",
    [
        ("docker", None, "AgentFleetArgs.target: 'docker' is a str, not a Target", "a DockerTarget or KubernetesTarget"),
        (None, "central", "AgentFleetArgs.receive: 'central' is a str, not a ReceiveCluster",
         "a ReceiveCluster, or none with remote_write_url"),
        (None, {"replicas": 1}, "AgentFleetArgs.receive: {'replicas': 1} is a dict, not a ReceiveCluster", "a ReceiveCluster"),
    ],
)
def test_wrong_typed_dependencies_refused_before_registration(target_arg, receive_arg, field, allowed):
    def program(target):
        a.AgentFleet("batmobile", {"remote_write_url": "http://r:1/x", "target": target_arg or target, "receive": receive_arg})

    with pytest.raises(TypeError) as e:
        run_on("docker", program)
    assert field in str(e.value) and allowed in str(e.value), str(e.value)
    assert fleet_recorded(e.value.recorded) == []


def test_output_passed_as_receive_refused():
    # e.g. a StackReference output where the ReceiveCluster object belongs.
    def program(target):
        a.AgentFleet("batmobile", {"target": target, "receive": pulumi.Output.from_input("central")})

    with pytest.raises(TypeError, match=r"^AgentFleetArgs.receive: <pulumi.output.Output .*> is an Output, not a ReceiveCluster") as e:
        run_on("docker", program)
    assert fleet_recorded(e.value.recorded) == []


def test_receive_passed_as_target_refused():
    def program(target):
        rc = a.ReceiveCluster("central", {"replicas": 1, "target": target})
        a.AgentFleet("batmobile", {"target": rc, "receive": rc})

    with pytest.raises(TypeError, match=r"AgentFleetArgs.target: <.*ReceiveCluster.*> is a ReceiveCluster, not a Target") as e:
        run_on("docker", program)
    assert fleet_recorded(e.value.recorded) == []


@pytest.mark.parametrize(
    "args,error,needle",
    [
        ({"scrapeInterval": "5s"}, ValueError, "AgentFleetArgs.scrapeInterval: unknown key (did you mean 'scrape_interval'?)"),
        ({"static_targets": ["http://node:9100"]}, ValueError, "fleets[batmobile].staticTargets[0]"),
        ("agents=2", TypeError, "AgentFleetArgs: 'agents=2' is not a mapping"),
    ],
)
def test_bad_args_register_no_fleet(args, error, needle):
    def with_dependencies(args, target):
        # A string stays as it is: refusing it is the point of that case.
        if not isinstance(args, dict):
            return args
        return {**args, "target": target, "receive": a.ReceiveCluster("central", {"replicas": 1, "target": target})}

    with pytest.raises(error) as e:
        run_on("kubernetes", lambda target: a.AgentFleet("batmobile", with_dependencies(args, target)))
    assert needle in str(e.value), str(e.value)
    assert fleet_recorded(e.value.recorded) == []
    assert "agentstream:index:AgentFleet" not in {r.type for r in e.value.recorded}
