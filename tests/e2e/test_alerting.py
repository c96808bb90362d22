"""The pipeline watches itself and alerts on the global view, for real.

The dev stack with self-monitoring (on by default; 5s scrapes here) and
alerting on (a Thanos Ruler on Query with the shipped rules, 15s
evaluations, and an Alertmanager built from its Go module), deployed by the
real engine on Docker:

* through Query, ``up`` is 1 for every job the self-monitoring fleet
  scrapes, i.e. every component of the stack;
* the failure counters to alert on are there, and every metric the shipped
  rules name exists in the running pipeline (a misspelled metric would make
  an alert that can never fire);
* the rule files the Ruler loads pass ``promtool check rules`` and
  ``thanos tools rules-check``, Alertmanager's config ``amtool check-config``
  (each with a control that the check can fail);
* stopping a receiver fires ``AgentstreamReceiverDown`` in the Ruler and the
  alert arrives at Alertmanager within the rule's ``for`` plus two
  evaluation intervals (plus one scrape and the remote-write batch deadline,
  the time for ``up == 0`` to reach the global view), and it resolves once
  the receiver is back.
"""

from __future__ import annotations

import os
import re
import time

import pytest
import requests
import yaml

from agentstream.config.alerting import default_rules
from tests.e2e.conftest import CACHE, Query, log, run, wait_for
from tests.support.real_stack import shipped_config

pytestmark = pytest.mark.e2e

EVAL = 15
META_SCRAPE = 5
# The remote-write batch deadline (config/prometheus.py DEFAULT_QUEUE_CONFIG).
BATCH_DEADLINE = 5
RECEIVER = "central-receive-2"


def alerting_config() -> dict:
    cfg = shipped_config("dev")
    cfg["agentstream:alerting"] = {"enabled": True, "evalInterval": f"{EVAL}s"}
    cfg["agentstream:selfMonitoring"] = {"scrapeInterval": f"{META_SCRAPE}s"}
    return cfg


@pytest.fixture(scope="module")
def watched(backend, docker_client):
    stack = backend.stack("alerting", alerting_config())
    up = stack.up()
    assert up.summary.result == "succeeded"
    yield stack, stack.outputs(), docker_client
    stack.destroy()


def rule_metric_names(text: str) -> set[str]:
    """Metric names the rules select (a name right before ``{`` or ``[``)."""
    names: set[str] = set()
    for group in yaml.safe_load(text)["groups"]:
        for rule in group["rules"]:
            names |= set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", rule["expr"]))
    return names


def missing_metrics(q: Query, names: set[str]) -> list[str]:
    return sorted(n for n in names if not q.query(f'count({{__name__="{n}"}})'))


def test_every_component_is_up_in_the_global_view(watched):
    _, outputs, _ = watched
    q = Query(outputs["query_url"])
    jobs = outputs["self_monitoring"]["jobs"]
    assert {"thanos-receive", "thanos-query", "thanos-store", "thanos-compact", "thanos-rule", "alertmanager",
            "seaweedfs", "prometheus-agent"} <= set(jobs), jobs

    def all_up():
        seen = {}
        for job, targets in jobs.items():
            series = q.query(f'up{{cluster="meta", job="{job}"}}')
            seen[job] = {s["metric"]["instance"]: s["value"][1] for s in series}
            if set(seen[job]) != set(targets) or set(seen[job].values()) != {"1"}:
                return None
        return seen

    seen = wait_for("up == 1 for every target of every self-monitoring job", all_up, timeout=240, interval=5)
    log(f"self-monitoring: {sum(len(v) for v in seen.values())} targets up in {len(seen)} jobs: {sorted(seen)}")
    # In its own tenant.
    assert {s["metric"].get("tenant_id") for s in q.query('up{cluster="meta"}')} == {"meta"}


def test_failure_counters_to_alert_on_are_there(watched):
    _, outputs, _ = watched
    q = Query(outputs["query_url"])
    agents = [a for agents in outputs["fleets"].values() for a in agents] + outputs["self_monitoring"]["agents"]

    def counters():
        failed = q.query('prometheus_remote_storage_samples_failed_total{job="prometheus-agent"}')
        per_agent = {s["metric"]["instance"].split(":")[0] for s in failed}
        return per_agent if per_agent >= set(agents) else None

    wait_for("prometheus_remote_storage_samples_failed_total for every agent", counters, timeout=120)
    for metric in ("thanos_receive_replications_total", "thanos_receive_forward_requests_total",
                   "thanos_receive_write_samples_count", "thanos_shipper_upload_failures_total"):
        series = q.query(f'{metric}{{job="thanos-receive"}}')
        assert series, f"{metric} not in the global view"
    # Nothing failed in a healthy pipeline.
    assert q.query('sum(prometheus_remote_storage_samples_failed_total{job="prometheus-agent"})')[0]["value"][1] == "0"


# Metrics a healthy young pipeline does not export yet: each appears with its
# first event (a failed compaction group, a dropped alert, ...).
EVENT_ONLY = {
    "thanos_compact_group_compactions_failures_total",
    "thanos_compact_group_compactions_total",
    "thanos_alert_sender_alerts_dropped_total",
    "prometheus_rule_evaluation_failures_total",
}


def test_every_metric_the_rules_name_exists(watched):
    _, outputs, _ = watched
    q = Query(outputs["query_url"])
    names = rule_metric_names(default_rules())
    assert len(names) > 20, names

    def settled():
        # Everything but the event-only ones, once every job has been scraped.
        missing = missing_metrics(q, names)
        return missing if set(missing) <= EVENT_ONLY else None

    missing = wait_for("every metric the shipped rules select", settled, timeout=180, interval=10)
    log(f"the rules name {len(names)} metrics; not exported yet (event-only): {missing}")
    # Control: a misspelled metric is reported, so the check can fail.
    assert missing_metrics(q, {"thanos_receive_replication_total"}) == ["thanos_receive_replication_total"]


def _exec_text(docker_client, container: str, path: str) -> str:
    out = docker_client.containers.get(container).exec_run(["cat", path])
    assert out.exit_code == 0, out.output
    return out.output.decode()


def test_rule_files_and_alertmanager_config_pass_the_real_checkers(watched, tmp_path, promtool, thanos_binary):
    _, _, docker_client = watched
    rules = tmp_path / "agentstream.yaml"
    rules.write_text(_exec_text(docker_client, "alerting-rule-0", "/etc/thanos/rules/agentstream.yaml"))
    assert rules.read_text() == default_rules()
    r = run([promtool, "check", "rules", str(rules)])
    assert r.returncode == 0, r.stdout + r.stderr
    log(f"promtool check rules: {r.stdout.strip().splitlines()[-1]}")
    r = run([thanos_binary, "tools", "rules-check", f"--rules={rules}"])
    assert r.returncode == 0, r.stdout + r.stderr
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(_exec_text(docker_client, "alerting-alertmanager-0", "/etc/alertmanager/alertmanager.yml"))
    amtool = os.path.join(CACHE, "bin", "alertmanager-v0.35.0", "amtool")
    r = run([amtool, "check-config", str(am_config)])
    assert r.returncode == 0, r.stdout + r.stderr
    # Controls: each checker rejects a broken file.
    broken = tmp_path / "broken.yaml"
    broken.write_text(rules.read_text().replace("== 0", "== ", 1))
    assert run([promtool, "check", "rules", str(broken)]).returncode != 0
    assert run([thanos_binary, "tools", "rules-check", f"--rules={broken}"]).returncode != 0
    broken_am = tmp_path / "broken-am.yml"
    broken_am.write_text(am_config.read_text().replace("receiver: default", "receiver: nobody"))
    assert run([amtool, "check-config", str(broken_am)]).returncode != 0


def test_restart_and_given_up_alerts_fire_on_what_they_describe(tmp_path, promtool):
    """``promtool test rules`` on the shipped file: a receiver restarted 3
    times in 30 minutes pages, one rolled once does not; an agent whose
    remote write gave up 90 samples is warned about, one that gave up none
    is not. Each case with its control, so neither rule fires vacuously."""
    rules = {r["alert"]: r for g in yaml.safe_load(default_rules())["groups"] for r in g["rules"] if "alert" in r}
    (tmp_path / "rules.yaml").write_text(default_rules())

    def expect(at: str, name: str, labels: dict | None = None, summary: str = "") -> dict:
        """At ``at``, ``name`` firing once for ``labels`` (none if None)."""
        alerts = [] if labels is None else [{
            "exp_labels": {**labels, **rules[name]["labels"]},
            "exp_annotations": {"summary": summary, "description": rules[name]["annotations"]["description"]},
        }]
        return {"eval_time": at, "alertname": name, "exp_alerts": alerts}

    agent = {"job": "prometheus-agent", "instance": "batmobile-agent-0:9090", "remote_name": "r", "url": "u"}
    quiet = {**agent, "instance": "batmobile-agent-1:9090"}
    receiver = {"job": "thanos-receive", "instance": "central-receive-0:10902"}
    rolled = {**receiver, "instance": "central-receive-1:10902"}

    def series(name: str, labels: dict) -> str:
        return name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                # Gave up 90 samples at 21m (counter 0 -> 90); its fleet mate none.
                {"series": series("prometheus_remote_storage_samples_failed_total", agent), "values": "0x20 90x20"},
                {"series": series("prometheus_remote_storage_samples_failed_total", quiet), "values": "0x40"},
                # Started anew at 6, 12 and 18 minutes; the other once (a rollout).
                {"series": series("process_start_time_seconds", receiver), "values": "100x5 460x5 820x5 1180x20"},
                {"series": series("process_start_time_seconds", rolled), "values": "100x5 460x35"},
            ],
            "alert_rule_test": [
                expect("19m", "PrometheusRemoteWriteSamplesGivenUp"),
                expect("25m", "PrometheusRemoteWriteSamplesGivenUp", agent,
                       "Agent batmobile-agent-0:9090 gave up 90 samples in 10 minutes."),
                expect("16m", "AgentstreamReceiverRestarting"),
                expect("20m", "AgentstreamReceiverRestarting", receiver,
                       "Receiver central-receive-0:10902 restarted 3 times in 30 minutes."),
            ],
        }],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    r = run([promtool, "test", "rules", str(tmp_path / "test.yaml")])
    assert r.returncode == 0, r.stdout + r.stderr
    log(f"promtool test rules: {r.stdout.strip().splitlines()[-1]}")
    # Control: the same test against a rule that ignores what it describes fails.
    (tmp_path / "rules.yaml").write_text(default_rules().replace(
        'changes(process_start_time_seconds{job="thanos-receive"}[30m]) > 2',
        'changes(process_start_time_seconds{job="thanos-receive"}[30m]) > 5'))
    assert run([promtool, "test", "rules", str(tmp_path / "test.yaml")]).returncode != 0


def _firing(url: str, path: str, name: str, instance: str) -> bool:
    body = requests.get(f"{url}{path}", timeout=10).json()
    # Alertmanager v2: a list of alerts. The Thanos Ruler: {"status", "data"}
    # with data {"Alerts": [...]} (an untagged Go struct field in
    # pkg/api/rule/v1.go, unlike Prometheus' "alerts").
    data = body["data"] if isinstance(body, dict) else body
    alerts = (data.get("Alerts", data.get("alerts")) if isinstance(data, dict) else data) or []
    for alert in alerts:
        labels = alert["labels"]
        if isinstance(labels, list):  # label pairs, if marshalled that way
            labels = {pair["name"]: pair["value"] for pair in labels}
        state = alert.get("state") or alert.get("status", {}).get("state")
        # rulespb.AlertState as a string, or its enum number (3: FIRING).
        state = state.lower() if isinstance(state, str) else {3: "firing"}.get(state, state)
        if labels.get("alertname") == name and labels.get("instance") == instance and state in ("firing", "active"):
            return True
    return False


def test_a_stopped_receiver_fires_its_alert_into_alertmanager(watched):
    _, outputs, docker_client = watched
    ruler, am = outputs["ruler_url"], outputs["alertmanager_url"]
    q = Query(outputs["query_url"])
    rule = next(r for g in yaml.safe_load(default_rules())["groups"] for r in g["rules"]
                if r.get("alert") == "AgentstreamReceiverDown")
    hold = 60 if rule["for"] == "1m" else pytest.fail(f"unexpected for: {rule['for']}")
    instance = f"{RECEIVER}:10902"
    # Healthy first: the alert is not firing (so the check below can fail).
    wait_for(f"{RECEIVER} up in the global view", lambda: q.query(f'up{{job="thanos-receive", instance="{instance}"}} == 1'),
             timeout=120)
    assert not _firing(ruler, "/api/v1/alerts", "AgentstreamReceiverDown", instance)
    container = docker_client.containers.get(RECEIVER)
    log(f"stopping {RECEIVER}")
    t0 = time.time()
    container.stop(timeout=30)
    stopped = time.time()
    try:
        wait_for("AgentstreamReceiverDown firing in the Ruler",
                 lambda: _firing(ruler, "/api/v1/alerts", "AgentstreamReceiverDown", instance), timeout=300, interval=2)
        t_rule = time.time()
        wait_for("AgentstreamReceiverDown at Alertmanager",
                 lambda: _firing(am, "/api/v2/alerts", "AgentstreamReceiverDown", instance), timeout=120, interval=2)
        t_am = time.time()
    finally:
        log(f"starting {RECEIVER} again")
        container.start()
    bound = hold + 2 * EVAL + META_SCRAPE + BATCH_DEADLINE
    log(f"receiver stopped at +{stopped - t0:.0f}s (graceful stop); alert firing in the Ruler after {t_rule - stopped:.0f}s, "
        f"at Alertmanager after {t_am - stopped:.0f}s; bound: for {hold}s + 2 x {EVAL}s evaluations "
        f"+ {META_SCRAPE}s scrape + {BATCH_DEADLINE}s remote-write deadline = {bound}s")
    assert t_am - stopped <= bound, f"alert reached Alertmanager after {t_am - stopped:.0f}s, more than {bound}s"
    # Not before `for` either: the rule held it pending for its minute.
    assert t_rule - stopped >= hold
    wait_for("AgentstreamReceiverDown resolved in the Ruler once the receiver is back",
             lambda: not _firing(ruler, "/api/v1/alerts", "AgentstreamReceiverDown", instance), timeout=180, interval=5)
