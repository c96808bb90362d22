"""The Prometheus agent: its ``prometheus.yml`` and its command line.

Both are pure: validated settings in, text or argv out. The shipped stacks'
argv are pinned by golden files (``tests/golden/args/``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

import yaml

from ..settings import FleetSettings

# Why these queue settings: Thanos Receive answers fast, so a few shards of
# moderately sized batches keep latency low; the retry backoff is capped so an
# edge catches up quickly after an outage (the WAL holds the backlog).
DEFAULT_QUEUE_CONFIG: dict[str, object] = {
    "capacity": 10000,
    "min_shards": 1,
    "max_shards": 10,
    "max_samples_per_send": 2000,
    "batch_send_deadline": "5s",
    "min_backoff": "30ms",
    "max_backoff": "5s",
}

AGENT_PORT = 9090
# The job every agent's own metrics are scraped under; alert rules select it.
SELF_JOB = "prometheus-agent"
# Where the config file and the WAL volume sit in the container; the
# component mounts them at the same constants the flags name.
AGENT_CONFIG_FILE = "/etc/prometheus/prometheus.yml"
# Named jobs' targets, one file_sd file per job: live files (ConfigFile.live),
# so a changed target list (receivers scaled) reaches the running agents,
# which re-read them on change, without replacing them.
TARGETS_DIR = "/etc/prometheus/targets"
FILE_SD_REFRESH = "30s"
AGENT_WAL_DIR = "/prometheus"

# Remote Write 1.0. Thanos Receive rejects the 2.0 message, so this is pinned
# explicitly rather than left to a future Prometheus default.
REMOTE_WRITE_MESSAGE = "prometheus.WriteRequest"


def agent_args(settings: FleetSettings) -> list[str]:
    """An agent's argv; ``settings`` are AgentFleet's validated args.

    The whole command line is ours: the image's default CMD carries
    ``--storage.tsdb.path``, which agent mode rejects. The WAL keeps what
    remote write has not yet delivered for up to ``wal_retention``, which is
    how long an edge may be cut off without losing data.

    The remote-write flush deadline is that same ``wal_retention``, not
    Prometheus' 1m. Remote write stops its shards to reshard, and waits only
    the flush deadline for what they hold; past it, it drops them. It can
    reshard in the first seconds of an outage, while its last send is under
    10s old, and the drop then counts as a send, which permits the next
    reshard: a 10-minute cut of the fault suite lost 70s and more of samples
    to this cascade (`Failed to flush all samples on shutdown`,
    prometheus#12559). With the deadline as long as the WAL keeps samples,
    a reshard during an outage waits for receive to come back. The only other
    wait is shutdown while receive is unreachable, bounded by the container's
    stop grace (a reload would wait too, but a changed config replaces an
    agent: nothing reloads it).
    """
    return [
        "--agent",
        f"--config.file={AGENT_CONFIG_FILE}",
        f"--storage.agent.path={AGENT_WAL_DIR}",
        f"--storage.agent.retention.max-time={settings.wal_retention}",
        f"--storage.remote.flush-deadline={settings.wal_retention}",
        f"--web.listen-address=0.0.0.0:{AGENT_PORT}",
    ]


def render_agent_config(
    *,
    external_labels: dict[str, str],
    scrape_interval: str,
    self_targets: list[str],
    static_targets: list[str],
    remote_write_url: str,
    tenant_header: Optional[str] = None,
    tenant: Optional[str] = None,
    queue_config: Optional[dict[str, object]] = None,
    kubernetes_sd: bool = False,
    auth: Optional[dict[str, str]] = None,
    scrape_jobs: Optional[list[dict[str, Any]]] = None,
) -> str:
    """Render an agent-mode config: scrape jobs and one remote_write.

    Agent mode forbids ``rule_files``, ``alerting`` and ``remote_read``; none
    are ever emitted. ``external_labels`` values may contain ``${INSTANCE}``,
    which Prometheus expands from the environment at load time.

    ``auth`` is ``{"type": "bearer", "file": path}`` or ``{"type": "basic",
    "username": name, "file": path}``. The config names only the file that
    holds the token or password, so the config itself carries no secret.

    ``scrape_jobs`` are named jobs, ``{"name", "targets", "metrics_path"}``
    (the self-monitoring fleet's one job per component); each reads its
    targets from its own file (``scrape_job_files``). A job named like the
    fleet's own ``prometheus-agent`` job adds its targets to it: Prometheus
    refuses two jobs of one name, and alerts select agents by that job.
    """
    scrape_configs: list[dict[str, object]] = [
        {
            # The fleet's agents scrape each other as well as themselves, so
            # every agent holds the same series and Query can deduplicate
            # them on the agent replica label (an HA pair, as in the tutorial).
            "job_name": SELF_JOB,
            "static_configs": [{"targets": list(self_targets)}],
        }
    ]
    for job in scrape_jobs or []:
        # Its targets come from its file (scrape_job_files), not this config.
        file_sd = [{"files": [scrape_job_file(job["name"])], "refresh_interval": FILE_SD_REFRESH}]
        if job["name"] == SELF_JOB:
            scrape_configs[0]["file_sd_configs"] = file_sd
            continue
        scrape_configs.append(
            {
                "job_name": job["name"],
                "metrics_path": job.get("metrics_path") or "/metrics",
                "file_sd_configs": file_sd,
            }
        )
    if static_targets:
        scrape_configs.append({"job_name": "static", "static_configs": [{"targets": list(static_targets)}]})
    if kubernetes_sd:
        scrape_configs += _kubernetes_annotation_jobs()

    remote_write: dict[str, object] = {
        "url": remote_write_url,
        "protobuf_message": REMOTE_WRITE_MESSAGE,
        "queue_config": dict(queue_config or DEFAULT_QUEUE_CONFIG),
    }
    if tenant_header and tenant:
        remote_write["headers"] = {tenant_header: tenant}
    if auth is not None:
        if auth["type"] == "bearer":
            remote_write["authorization"] = {"type": "Bearer", "credentials_file": auth["file"]}
        else:
            remote_write["basic_auth"] = {"username": auth["username"], "password_file": auth["file"]}

    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": _timeout_for(scrape_interval),
            "external_labels": dict(external_labels),
        },
        "scrape_configs": scrape_configs,
        "remote_write": [remote_write],
    }
    return yaml.safe_dump(config, sort_keys=False)


def scrape_job_file(job: str) -> str:
    """Where a named job's targets file is."""
    return f"{TARGETS_DIR}/{job}.json"


def scrape_job_files(scrape_jobs: Optional[list[dict[str, Any]]]) -> dict[str, str]:
    """Path -> content of each named job's file_sd targets file (Prometheus'
    JSON form: one target group)."""
    return {
        scrape_job_file(job["name"]): json.dumps([{"targets": list(job["targets"]), "labels": {}}], indent=1) + "\n"
        for job in scrape_jobs or []
    }


def _timeout_for(interval: str) -> str:
    # scrape_timeout must not exceed scrape_interval; the global default (10s)
    # would break a 5s interval like the tutorial's.
    from ..validation import duration_seconds

    seconds = duration_seconds(interval)
    return interval if seconds < 10 else "10s"


def _kubernetes_annotation_jobs() -> list[dict[str, object]]:
    """Scrape pods and services that opt in with prometheus.io/* annotations."""

    def job(role: str) -> dict[str, object]:
        meta = f"__meta_kubernetes_{role}_annotation"
        present = f"__meta_kubernetes_{role}_annotationpresent"
        return {
            "job_name": f"kubernetes-{role}s",
            "kubernetes_sd_configs": [{"role": role}],
            "relabel_configs": [
                {"source_labels": [f"{meta}_prometheus_io_scrape"], "action": "keep", "regex": "true"},
                {
                    "source_labels": [f"{meta}_prometheus_io_path"],
                    "action": "replace",
                    "target_label": "__metrics_path__",
                    "regex": "(.+)",
                },
                {
                    "source_labels": ["__address__", f"{meta}_prometheus_io_port"],
                    "action": "replace",
                    "regex": "([^:]+)(?::\\d+)?;(\\d+)",
                    "replacement": "$1:$2",
                    "target_label": "__address__",
                },
                {"source_labels": [f"{present}_prometheus_io_scrape"], "action": "keep", "regex": "true"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": [f"__meta_kubernetes_{role}_name"], "target_label": role},
            ],
        }

    return [job("pod"), job("service")]
