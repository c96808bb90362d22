"""The Thanos Ruler's and Alertmanager's command lines and files.

Pure: validated settings in, argv or text out, shared by both targets and
pinned by tests (the shipped stacks' argv by golden files).
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Mapping, Optional

import yaml

from ..settings import AlertingSettings

RULER_GRPC_PORT = 10901
RULER_HTTP_PORT = 10902
RULE_DIR = "/etc/thanos/rules"
RULER_DATA_DIR = "/var/thanos/rule"
# The Ruler's own replica label: alerts drop it, so the replicas of an HA
# Ruler send the same alert and Alertmanager merges them.
RULER_REPLICA_LABEL = "rule_replica"

ALERTMANAGER_PORT = 9093
ALERTMANAGER_CLUSTER_PORT = 9094
ALERTMANAGER_CONFIG_FILE = "/etc/alertmanager/alertmanager.yml"
ALERTMANAGER_DATA_DIR = "/alertmanager"

# The shipped rule set, as data (components/agentstream/rules/).
DEFAULT_RULE_FILE = "agentstream.yaml"

# Routes every alert to one receiver without integrations: alerts are kept
# and shown by Alertmanager's API until the user configures where they go.
DEFAULT_ALERTMANAGER_CONFIG: dict[str, Any] = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname", "job"],
        "group_wait": "10s",
        "group_interval": "1m",
        "repeat_interval": "4h",
    },
    "receivers": [{"name": "default"}],
}


def default_rules() -> str:
    """The shipped rule file's text."""
    return resources.files("agentstream").joinpath("rules").joinpath(DEFAULT_RULE_FILE).read_text()


def ruler_args(
    settings: AlertingSettings,
    *,
    name: str,
    instance: str,
    query_addresses: list[str],
    alertmanager_urls: list[str],
    objstore_file: Optional[str],
) -> list[str]:
    """A Thanos Ruler's argv; ``settings`` are Alerting's validated args.

    It evaluates ``RULE_DIR/*.yaml`` against Query (the global, deduplicated
    view), so rules see every tenant and every replica merged. With a bucket
    its blocks (``ALERTS`` and recording rules' series) are uploaded and the
    Store gateway serves them.
    """
    args = [
        "rule",
        f"--data-dir={RULER_DATA_DIR}",
        f"--rule-file={RULE_DIR}/*.yaml",
        f"--eval-interval={settings.eval_interval}",
        f"--tsdb.retention={settings.retention}",
        f"--grpc-address=0.0.0.0:{RULER_GRPC_PORT}",
        f"--http-address=0.0.0.0:{RULER_HTTP_PORT}",
        f'--label=ruler_cluster="{name}"',
        f'--label={RULER_REPLICA_LABEL}="{instance}"',
        f"--alert.label-drop={RULER_REPLICA_LABEL}",
    ]
    args += [f"--query={q}" for q in query_addresses]
    args += [f"--alertmanagers.url={u}" for u in alertmanager_urls]
    if objstore_file is not None:
        args.append(f"--objstore.config-file={objstore_file}")
    return args


def alertmanager_args(*, peers: list[str]) -> list[str]:
    """An Alertmanager's argv. With ``peers`` (the other replicas'
    ``host:port``) the replicas gossip silences and notifications; alone,
    clustering is off (an empty listen address), so it never waits for peers."""
    args = [
        f"--config.file={ALERTMANAGER_CONFIG_FILE}",
        f"--storage.path={ALERTMANAGER_DATA_DIR}",
        f"--web.listen-address=0.0.0.0:{ALERTMANAGER_PORT}",
    ]
    if peers:
        args.append(f"--cluster.listen-address=0.0.0.0:{ALERTMANAGER_CLUSTER_PORT}")
        args += [f"--cluster.peer={p}" for p in peers]
    else:
        args.append("--cluster.listen-address=")
    return args


def render_alertmanager_config(config: Optional[Mapping[str, Any]]) -> str:
    """alertmanager.yml: the user's, else one receiver that keeps the alerts."""
    return yaml.safe_dump(dict(config) if config is not None else DEFAULT_ALERTMANAGER_CONFIG, sort_keys=False)
