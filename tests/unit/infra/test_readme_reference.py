"""The README's configuration reference and the stack program's keys cannot
drift: every key ``infra/settings.py`` accepts has a row, and every row names
a key it accepts."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "infra"))
import settings  # noqa: E402

# Keys whose value is a mapping or list documented in one row (its own keys
# are Thanos'/Prometheus' or free-form), with words the row must mention.
WHOLE = {
    "receive.limits": ("max_concurrency", "size_bytes_limit", "series_limit", "samples_limit", "tenants"),
    "fleets[].queueConfig": ("max_samples_per_send",),
    "fleets[].externalLabels": (),
    "fleets[].remoteWriteAuth": tuple(settings.AUTH_KEYS),
    "kubernetes.ingress.annotations": (),
    "receive.resources": (*settings.RECEIVE_RESOURCES_KEYS, "requests", "limits", "cpu", "memory"),
    "fleets[].resources": ("requests", "limits", "cpu", "memory"),
    "objectStore.resources": ("requests", "limits", "cpu", "memory"),
    # Raw Kubernetes objects under our own keys.
    "receive.scheduling": tuple(settings.SCHEDULING_KEYS),
    "fleets[].scheduling": tuple(settings.SCHEDULING_KEYS),
    "objectStore.scheduling": tuple(settings.SCHEDULING_KEYS),
    "fleets[].scrapeJobs": tuple(settings.SCRAPE_JOB_KEYS),
    "selfMonitoring.resources": ("requests", "limits"),
    "selfMonitoring.scheduling": tuple(settings.SCHEDULING_KEYS),
    "alerting.resources": ("requests", "limits"),
    "alerting.scheduling": tuple(settings.SCHEDULING_KEYS),
    "alerting.ruleFiles": ("groups",),
    "alerting.alertmanager.config": ("route", "receivers"),
    "alerting.alertmanager.resources": ("requests", "limits"),
}
SECTIONS = {"fleets[]"}  # a row for the list itself
# Mappings whose own keys have rows (the mapping itself needs none).
NESTED = {"kubernetes.ingress", "receive.queryFrontend", "receive.queryFrontend.cache"}


def accepted_keys() -> set[str]:
    sections = ("docker", "kubernetes", "objectStore", "receive", "fleets", "images", "selfMonitoring", "alerting")
    keys = {k for k in settings.TOP_KEYS if k not in sections}
    keys |= {f"selfMonitoring.{k}" for k in settings.SELF_MONITORING_KEYS}
    keys |= {f"alerting.{k}" for k in settings.ALERTING_KEYS if k != "alertmanager"}
    keys |= {f"alerting.alertmanager.{k}" for k in settings.ALERTMANAGER_KEYS}
    keys |= {f"docker.{k}" for k in settings.DOCKER_KEYS}
    keys |= {f"kubernetes.{k}" for k in settings.KUBERNETES_KEYS if k != "ingress"}
    keys |= {f"kubernetes.ingress.{k}" for k in settings.INGRESS_KEYS}
    keys |= {f"objectStore.{k}" for k in settings.OBJECT_STORE_KEYS}
    keys |= {f"receive.{k}" for k in settings.RECEIVE_KEYS if k != "queryFrontend"}
    keys |= {f"receive.queryFrontend.{k}" for k in settings.FRONTEND_KEYS if k != "cache"}
    keys |= {f"receive.queryFrontend.cache.{k}" for k in settings.FRONTEND_CACHE_KEYS}
    keys |= {f"fleets[].{k}" for k in settings.FLEET_KEYS}
    keys |= {f"images.{k}" for k in settings.IMAGE_KEYS}
    return keys


def readme_rows(text: str) -> dict[str, str]:
    """Key -> its row, from the table under '## Configuration reference'.

    A row may name several keys: "`receive.queryPort` / `receive.remoteWritePort`",
    or a shared prefix: "`images.prometheus` / `.thanos`".
    """
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        names = re.findall(r"`([^`]+)`", first)
        prefix = names[0].rsplit(".", 1)[0] if "." in names[0] else ""
        for name in names:
            full = f"{prefix}{name}" if name.startswith(".") else name
            assert full not in rows, f"README documents {full} twice"
            rows[full] = line
    return rows


@pytest.fixture(scope="module")
def rows() -> dict[str, str]:
    return readme_rows((REPO / "README.md").read_text())


def test_every_accepted_key_is_documented(rows):
    missing = sorted(accepted_keys() - set(rows))
    assert not missing, f"keys the stack program accepts but the README's configuration reference omits: {missing}"


def test_every_documented_key_is_accepted(rows):
    unknown = sorted(set(rows) - accepted_keys() - SECTIONS - set(WHOLE))
    assert not unknown, f"README documents keys the stack program rejects: {unknown}"


@pytest.mark.parametrize("key", sorted(WHOLE))
def test_mapping_rows_name_their_keys(rows, key):
    assert key in rows
    for word in WHOLE[key]:
        assert word in rows[key], f"the README row for {key} does not mention {word!r}"


def test_the_check_can_fail():
    """Control: a key added to the program but not to the README is reported, and a stale row too."""
    text = (REPO / "README.md").read_text()
    rows = readme_rows(text.replace("| `receive.retention` |", "| `receive.retentionTime` |"))
    assert "receive.retention" in accepted_keys() - set(rows)
    assert "receive.retentionTime" in set(rows) - accepted_keys()
