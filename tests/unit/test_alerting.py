"""Alerting (Thanos Ruler + Alertmanager) and SelfMonitoring on both targets,
under mocks: the graph, the argv, the files, the scrape jobs, bad input."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

import agentstream as a
from agentstream.alerting import validate_alerting_args
from agentstream.config.alerting import (
    DEFAULT_ALERTMANAGER_CONFIG,
    alertmanager_args,
    default_rules,
    render_alertmanager_config,
    ruler_args,
)
from agentstream.self_monitoring import ENDPOINTS, scrape_jobs
from tests.support import resources as R
from tests.support.programs import TARGET_KINDS, run_on

RULES = {"mine.yaml": {"groups": [{"name": "mine", "rules": [{"alert": "Always", "expr": "vector(1)", "for": "1m"}]}]}}


def build(alerting_args=None, self_monitoring=True, store=True):
    def program(target):
        objects = a.ObjectStore("objstore", {"target": target}) if store else None
        rc = a.ReceiveCluster("central", {"replicas": 3, "target": target, "object_store": objects})
        fleet = a.AgentFleet("batmobile", {"agents": 2, "target": target, "receive": rc})
        alerting = a.Alerting("alerting", {**(alerting_args or {}), "target": target, "receive": rc, "object_store": objects})
        pulumi.export("ruler_url", alerting.ruler_url)
        pulumi.export("alertmanager_url", alerting.alertmanager_url)
        pulumi.export("rule_files", alerting.rule_files)
        if self_monitoring:
            meta = a.SelfMonitoring(
                "meta", {"object_store": objects, "alerting": alerting, "fleets": [fleet], "target": target, "receive": rc}
            )
            pulumi.export("jobs", meta.jobs)

    return program


def ruler_argv(run, kind):
    if kind == "docker":
        (c,) = R.containers_of(run, "alerting-rule")
        return c.inputs["command"]
    return R.main_container(R.k8s_workload(run, "alerting-rule"))["args"]


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_ruler_evaluates_against_query_and_sends_to_the_deployed_alertmanager(kind):
    run = run_on(kind, build())
    argv = ruler_argv(run, kind)
    assert argv[0] == "rule"
    query = [x for x in argv if x.startswith("--query=")]
    am = [x for x in argv if x.startswith("--alertmanagers.url=")]
    if kind == "docker":
        assert query == ["--query=central-query:10902"]
        assert am == ["--alertmanagers.url=http://alerting-alertmanager-0:9093"]
        assert run.outputs["ruler_url"] == "http://127.0.0.1:10922"
        assert run.outputs["alertmanager_url"] == "http://127.0.0.1:9093"
    else:
        assert query == ["--query=central-query.obs.svc.cluster.local:10902"]
        assert am == ["--alertmanagers.url=http://alerting-alertmanager-0.alerting-alertmanager.obs.svc.cluster.local:9093"]
    assert "--objstore.config-file=/etc/thanos/objstore.yml" in argv
    assert run.outputs["rule_files"] == ["agentstream.yaml"]


def test_rule_files_are_mounted_where_the_ruler_globs():
    run = run_on("docker", build({"rule_files": RULES}))
    (c,) = R.containers_of(run, "alerting-rule")
    assert "--rule-file=/etc/thanos/rules/*.yaml" in c.inputs["command"]
    assert yaml.safe_load(R.upload(c, "/etc/thanos/rules/agentstream.yaml")) == yaml.safe_load(default_rules())
    assert yaml.safe_load(R.upload(c, "/etc/thanos/rules/mine.yaml")) == RULES["mine.yaml"]


def test_alertmanager_config_is_a_secret_file():
    run = run_on("kubernetes", build({"alertmanager": {"config": {"route": {"receiver": "x"}, "receivers": [{"name": "x"}]}}}))
    sts = R.k8s_workload(run, "alerting-alertmanager")
    text, obj, path = R.k8s_file(run, sts, "/etc/alertmanager/alertmanager.yml")
    assert obj.inputs["kind"] == "Secret" and obj.is_secret(path)
    assert yaml.safe_load(text)["route"] == {"receiver": "x"}


def test_users_alertmanagers_replace_the_deployed_one():
    run = run_on("docker", build({"alertmanager_urls": ["http://am.example:9093", "https://am2.example"]}))
    assert R.containers_of(run, "alerting-alertmanager") == []
    argv = ruler_argv(run, "docker")
    assert [x for x in argv if x.startswith("--alertmanagers.url=")] == [
        "--alertmanagers.url=http://am.example:9093", "--alertmanagers.url=https://am2.example"
    ]
    assert run.outputs["alertmanager_url"] is None


def test_alertmanager_replicas_gossip_and_each_gets_the_alerts():
    run = run_on("docker", build({"alertmanager": {"replicas": 2}}))
    ams = R.containers_of(run, "alerting-alertmanager")
    assert len(ams) == 2
    for c in ams:
        assert "--cluster.peer=alerting-alertmanager-0:9094" in c.inputs["command"]
        assert "--cluster.peer=alerting-alertmanager-1:9094" in c.inputs["command"]
    am = [x for x in ruler_argv(run, "docker") if x.startswith("--alertmanagers.url=")]
    assert len(am) == 2


def test_pure_renderers():
    s = validate_alerting_args({"eval_interval": "15s", "retention": "48h"}, "docker")
    argv = ruler_args(s, name="r", instance="$(INSTANCE)", query_addresses=["q:10902"], alertmanager_urls=[], objstore_file=None)
    assert "--eval-interval=15s" in argv and '--label=rule_replica="$(INSTANCE)"' in argv
    assert "--alert.label-drop=rule_replica" in argv
    assert not any(x.startswith("--objstore") for x in argv)
    assert alertmanager_args(peers=[])[-1] == "--cluster.listen-address="
    assert yaml.safe_load(render_alertmanager_config(None)) == DEFAULT_ALERTMANAGER_CONFIG


def test_shipped_rules_are_well_formed_and_select_known_jobs():
    doc = yaml.safe_load(default_rules())
    jobs = {e.job for e in ENDPOINTS.values()}
    names = [r["alert"] for g in doc["groups"] for r in g["rules"]]
    assert len(names) == len(set(names)) and "AgentstreamReceiverDown" in names
    for g in doc["groups"]:
        for r in g["rules"]:
            for job in __import__("re").findall(r'job="([^"]+)"', r["expr"]):
                assert job in jobs, (r["alert"], job)
    # And the validator takes the shipped file as a user file would be taken.
    validate_alerting_args({"default_rules": False, "rule_files": {"copy.yaml": default_rules()}}, "docker")


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_self_monitoring_scrapes_every_component(kind):
    run = run_on(kind, build())
    jobs = run.outputs["jobs"]
    assert set(jobs) == {
        "thanos-receive", "thanos-query", "thanos-store", "thanos-compact", "thanos-rule", "alertmanager",
        "seaweedfs", "prometheus-agent",
    }
    assert len(jobs["thanos-receive"]) == 3 and len(jobs["prometheus-agent"]) == 2 + 1  # the fleet's and its own
    if kind == "docker":
        assert jobs["seaweedfs"] == ["objstore-seaweedfs-0:9327"]
        (c,) = R.containers_of(run, "meta-agent")
        cfg = yaml.safe_load(R.upload(c, "/etc/prometheus/prometheus.yml"))
    else:
        sts = R.k8s_workload(run, "meta-agent")
        cfg = yaml.safe_load(R.k8s_file(run, sts, "/etc/prometheus/prometheus.yml")[0])
        # Query runs as a Deployment: its pods have no names of their own,
        # so it is scraped through its Service.
        assert jobs["thanos-query"] == ["central-query.obs.svc.cluster.local:10902"]
        assert jobs["thanos-receive"][0] == "central-receive-0.central-receive.obs.svc.cluster.local:10902"
        # Scraped by name: no pod discovery, so no API access either.
        assert R.pod_spec(sts)["automountServiceAccountToken"] is False
    by_job = {j["job_name"]: j for j in cfg["scrape_configs"]}

    def targets(job):
        """A job's targets: its static ones and those of its live file_sd file."""
        static = [t for sc in by_job[job].get("static_configs", []) for t in sc["targets"]]
        (sd,) = by_job[job].get("file_sd_configs", [{"files": []}])[:1] or [{"files": []}]
        files = [json.loads(R.live_file(run, kind, "meta-agent", path)) for path in sd["files"]]
        return static + [t for groups in files for g in groups for t in g["targets"]]

    # The fleet's agents join the meta agent's own prometheus-agent job.
    assert len(targets("prometheus-agent")) == 3
    assert targets("thanos-receive") == jobs["thanos-receive"]
    # The named jobs' targets are live files, not in prometheus.yml: a new
    # list (receivers scaled) does not replace the agent.
    assert "static_configs" not in by_job["thanos-receive"]
    assert by_job["thanos-receive"]["file_sd_configs"] == [
        {"files": ["/etc/prometheus/targets/thanos-receive.json"], "refresh_interval": "30s"}
    ]
    assert cfg["remote_write"][0]["headers"] == {"THANOS-TENANT": "meta"}


def test_scrape_jobs_skip_what_has_no_process():
    class Fake:
        workloads: list = []
        target = None

    assert scrape_jobs([Fake()]) == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"eval_interval": "0s"}, "alerting.evalInterval"),
        ({"default_rules": "no"}, "alerting.defaultRules: 'no' is not allowed; allowed values: true, false"),
        ({"default_rules": False}, "nothing to evaluate"),
        ({"rule_files": {"a.yml": RULES["mine.yaml"]}}, "alerting.ruleFiles.a.yml: not a rule file name"),
        ({"rule_files": {"agentstream.yaml": RULES["mine.yaml"]}}, "the shipped rule file's name"),
        ({"rule_files": {"a.yaml": "groups: ["}}, "alerting.ruleFiles.a.yaml: not valid YAML"),
        ({"rule_files": {"a.yaml": {"groups": "x"}}}, "alerting.ruleFiles.a.yaml.groups: must be a list"),
        ({"rule_files": {"a.yaml": {"groups": [{"name": "g", "rules": [{"expr": "up"}]}]}}}, "exactly one of alert, record"),
        ({"rule_files": {"a.yaml": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "annotation": {}}]}]}}},
         "rules[0].annotation: unknown key (did you mean 'annotations'?)"),
        ({"rule_files": ["a.yaml"]}, "alerting.ruleFiles: must be a mapping"),
        ({"alertmanager_urls": "http://am:9093"}, "alerting.alertmanagerUrls: must be a list"),
        ({"alertmanager_urls": ["am:9093"]}, "alerting.alertmanagerUrls[0]"),
        ({"alertmanager_urls": ["http://am:9093"], "alertmanager": {"replicas": 2}}, "set together with alertmanagerUrls"),
        ({"alertmanager": {"replicas": 0}}, "alerting.alertmanager.replicas: 0 is out of range"),
        ({"alertmanager": {"config": {"receivers": []}}}, "alerting.alertmanager.config.route: required"),
        ({"alertmanager": {"config": {"route": {}, "receivers": [], "recievers": []}}}, "did you mean 'receivers'"),
        ({"alertmanager": {"port": 10922}}, "alerting.alertmanager.port: 10922 is also alerting.port"),
        ({"replicas": 9}, "alerting.replicas: 9 is out of range"),
        ({"storage_size": "two gigs"}, "alerting.storageSize"),
        ({"scheduling": {"node_selector": {"a": "b"}}}, "alerting.scheduling"),
        ({"evalInterval": "15s"}, "did you mean 'eval_interval'"),
    ],
)
def test_bad_alerting_args(args, message):
    with pytest.raises((ValueError, TypeError)) as e:
        validate_alerting_args(args, "docker")
    assert message in str(e.value)


def test_host_port_collision_with_receive_is_refused_before_any_resource():
    with pytest.raises(ValueError, match=r"alerting.port: 10902 is also receive.queryPort"):
        run_on("docker", build({"port": 10902}))


@pytest.mark.parametrize(
    "extra, error, needle",
    [
        ({"fleets": ["batmobile"]}, TypeError, "SelfMonitoringArgs.fleets[0]: 'batmobile' is a str, not an AgentFleet"),
        ({"fleets": "batmobile"}, ValueError, "SelfMonitoringArgs.fleets: must be a list"),
        ({"object_store": "objstore"}, TypeError, "SelfMonitoringArgs.object_store: 'objstore' is a str, not an ObjectStore"),
        ({"alerting": {"enabled": True}}, TypeError, "SelfMonitoringArgs.alerting: {'enabled': True} is a dict, not an Alerting"),
        ({"monitor": []}, ValueError, "SelfMonitoringArgs.monitor: unknown key"),
    ],
)
def test_self_monitoring_rejects_what_it_cannot_scrape(extra, error, needle):
    def program(target):
        rc = a.ReceiveCluster("central", {"replicas": 1, "target": target})
        a.SelfMonitoring("meta", {**extra, "target": target, "receive": rc})

    with pytest.raises(error) as e:
        run_on("docker", program)
    assert needle in str(e.value), str(e.value)


def test_self_monitoring_fleet_errors_name_its_own_keys():
    def program(target):
        rc = a.ReceiveCluster("central", {"replicas": 1, "target": target})
        a.SelfMonitoring("meta", {"scrape_interval": "0s", "target": target, "receive": rc})

    with pytest.raises(ValueError, match=r"SelfMonitoringArgs.scrapeInterval"):
        run_on("docker", program)
