"""The agent's prometheus.yml renderer, as a plain function."""

from __future__ import annotations

import pytest
import yaml

from agentstream.config import render_agent_config
from agentstream.config.prometheus import DEFAULT_QUEUE_CONFIG, REMOTE_WRITE_MESSAGE

URL = "http://central-receive:19291/api/v1/receive"


def render(**overrides):
    kwargs = dict(
        external_labels={"cluster": "batmobile", "prometheus_replica": "${INSTANCE}"},
        scrape_interval="15s",
        self_targets=["batmobile-agent-0:9090", "batmobile-agent-1:9090"],
        static_targets=[],
        remote_write_url=URL,
        tenant_header="THANOS-TENANT",
        tenant="batmobile",
    )
    kwargs.update(overrides)
    return render_agent_config(**kwargs)


def parsed(**overrides):
    text = render(**overrides)
    cfg = yaml.safe_load(text)
    assert isinstance(cfg, dict)
    return cfg


@pytest.mark.parametrize("kubernetes_sd", [False, True])
@pytest.mark.parametrize("static", [[], ["node-exporter:9100"]])
def test_agent_mode_forbidden_sections_absent(kubernetes_sd, static):
    cfg = parsed(kubernetes_sd=kubernetes_sd, static_targets=static)
    for forbidden in ("rule_files", "alerting", "remote_read", "storage"):
        assert forbidden not in cfg
    assert set(cfg) == {"global", "scrape_configs", "remote_write"}


def test_parses_back_and_is_deterministic():
    assert render() == render()
    assert yaml.safe_load(render()) == parsed()


def test_one_remote_write_with_rw1_message_and_explicit_queue():
    cfg = parsed()
    assert len(cfg["remote_write"]) == 1
    rw = cfg["remote_write"][0]
    assert rw["url"] == URL
    assert rw["protobuf_message"] == "prometheus.WriteRequest" == REMOTE_WRITE_MESSAGE
    assert rw["queue_config"] == DEFAULT_QUEUE_CONFIG
    # explicit, not an empty block that leaves everything to defaults
    for key in ("capacity", "max_shards", "max_samples_per_send", "batch_send_deadline", "min_backoff", "max_backoff"):
        assert key in rw["queue_config"]


def test_custom_queue_config_replaces_default():
    custom = {"capacity": 500, "max_shards": 2, "retry_on_http_429": True}
    rw = parsed(queue_config=custom)["remote_write"][0]
    assert rw["queue_config"] == custom


def test_queue_config_default_not_shared():
    rw = parsed()["remote_write"][0]
    rw["queue_config"]["capacity"] = 1
    assert DEFAULT_QUEUE_CONFIG["capacity"] != 1


def test_tenant_header_present():
    rw = parsed(tenant_header="X-Scope-OrgID", tenant="batcopter")["remote_write"][0]
    assert rw["headers"] == {"X-Scope-OrgID": "batcopter"}


def test_no_header_without_tenant():
    rw = parsed(tenant_header=None, tenant=None)["remote_write"][0]
    assert "headers" not in rw


def test_external_labels_kept_verbatim_with_instance_placeholder():
    labels = parsed()["global"]["external_labels"]
    assert labels == {"cluster": "batmobile", "prometheus_replica": "${INSTANCE}"}


@pytest.mark.parametrize("interval,timeout", [("5s", "5s"), ("9s", "9s"), ("10s", "10s"), ("15s", "10s"), ("1m", "10s")])
def test_scrape_timeout_never_exceeds_interval(interval, timeout):
    g = parsed(scrape_interval=interval)["global"]
    assert g["scrape_interval"] == interval
    assert g["scrape_timeout"] == timeout


def test_agents_scrape_each_other():
    jobs = parsed()["scrape_configs"]
    assert jobs[0]["job_name"] == "prometheus-agent"
    assert jobs[0]["static_configs"] == [{"targets": ["batmobile-agent-0:9090", "batmobile-agent-1:9090"]}]


def test_static_targets_job_only_when_given():
    assert [j["job_name"] for j in parsed()["scrape_configs"]] == ["prometheus-agent"]
    jobs = parsed(static_targets=["node-exporter:9100", "10.0.0.1:9100"])["scrape_configs"]
    static = [j for j in jobs if j["job_name"] == "static"]
    assert static == [{"job_name": "static", "static_configs": [{"targets": ["node-exporter:9100", "10.0.0.1:9100"]}]}]


def test_kubernetes_sd_jobs_keep_only_annotated():
    jobs = {j["job_name"]: j for j in parsed(kubernetes_sd=True)["scrape_configs"]}
    assert {"kubernetes-pods", "kubernetes-services"} <= set(jobs)
    for role in ("pod", "service"):
        job = jobs[f"kubernetes-{role}s"]
        assert job["kubernetes_sd_configs"] == [{"role": role}]
        keep = job["relabel_configs"][0]
        assert keep == {
            "source_labels": [f"__meta_kubernetes_{role}_annotation_prometheus_io_scrape"],
            "action": "keep",
            "regex": "true",
        }
    assert not any(j.get("kubernetes_sd_configs") for j in parsed(kubernetes_sd=False)["scrape_configs"])


def test_yaml_safe_for_awkward_values():
    url = "https://rw.example.com:443/api/v1/receive?x=a#b"
    cfg = parsed(remote_write_url=url, external_labels={"site": "yes: no # 'quoted'"})
    assert cfg["remote_write"][0]["url"] == url
    assert cfg["global"]["external_labels"] == {"site": "yes: no # 'quoted'"}


def test_bearer_auth_names_only_the_file():
    rw = parsed(auth={"type": "bearer", "file": "/etc/prometheus/secrets/remote-write"})["remote_write"][0]
    assert rw["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/secrets/remote-write"}
    assert "basic_auth" not in rw


def test_basic_auth_names_only_the_file():
    rw = parsed(auth={"type": "basic", "username": "batmobile", "file": "/s/pw"})["remote_write"][0]
    assert rw["basic_auth"] == {"username": "batmobile", "password_file": "/s/pw"}
    assert "authorization" not in rw


def test_no_auth_by_default():
    rw = parsed()["remote_write"][0]
    assert "authorization" not in rw and "basic_auth" not in rw
