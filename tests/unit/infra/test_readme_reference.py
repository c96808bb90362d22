"""The README's configuration reference and the stack program's keys cannot
drift: every key ``infra/settings.py`` accepts has a row, and every row names
a key it accepts."""

from __future__ import annotations

import re
from dataclasses import fields
from collections.abc import Mapping
from typing import Optional
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


# -- defaults ----------------------------------------------------------------------------
# The README's default column is tested against the defaults the components'
# validators fill in (declared once, in the components), so a changed
# default that the README does not follow fails here.


def _validated_defaults() -> dict[str, object]:
    """README key -> the value the validators give it when the key is left out."""
    from agentstream.agent_fleet import validate_fleet_args
    from agentstream.alerting import validate_alerting_args
    from agentstream.object_store import validate_object_store_args
    from agentstream.receive_cluster import validate_query_frontend, validate_receive_args
    from agentstream.self_monitoring import validate_self_monitoring_args
    from agentstream.sizing import camel
    from agentstream.targets.docker import validate_docker_args
    from agentstream.targets.kubernetes import validate_ingress, validate_kubernetes_args

    receive = validate_receive_args({}, "docker")
    alerting = validate_alerting_args({}, "docker")
    sections = {
        "docker": validate_docker_args({}),
        "kubernetes": validate_kubernetes_args({}),
        "kubernetes.ingress": validate_ingress({"host": "receive.example"}),
        "objectStore": validate_object_store_args({}, "docker"),
        "receive": receive,
        "receive.queryFrontend": validate_query_frontend({}),
        "fleets[]": validate_fleet_args("f", {"remote_write_url": "http://r:19291/api/v1/receive"}, None, "docker"),
        "selfMonitoring": validate_self_monitoring_args("meta", {}, receive, "docker"),
        "alerting": alerting,
        "alerting.alertmanager": alerting.alertmanager,
    }
    sections["receive.queryFrontend.cache"] = sections["receive.queryFrontend"].cache
    out: dict[str, object] = {}
    for section, values in sections.items():
        # Typed settings (a frozen dataclass) or, where not converted yet, a dict.
        items = values.items() if isinstance(values, dict) else ((f.name, getattr(values, f.name)) for f in fields(values))
        for key, value in items:
            out[f"{section}.{camel(key)}"] = value
    return out


def _render(value: object) -> Optional[str]:
    """How the README writes a default, or None for values it describes in words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(value) + "]"
    if value == {}:
        return "{}"
    return None  # None (described: "—", "cluster default", ...), Resources, nested mappings


def _resources_words(value) -> list[str]:
    return [f"`{value.cpu_request}`/`{value.memory_request}`", f"`{value.cpu_limit}`/`{value.memory_limit}`"]


# Defaults that follow from other settings or the target: the README says so
# in words (the row must contain them), and the code is checked to do it.
DERIVED = {
    "receive.replicationFactor": "min(3, replicas)",
    "fleets[].cluster": "fleet name",
    "fleets[].tenant": "fleet name",
    "fleets[].kubernetesSd": "`true` on kubernetes",
    "selfMonitoring.cluster": None,  # not a stack key: always the fleet's name
    "selfMonitoring.tenant": "`meta`",
    "selfMonitoring.kubernetesSd": None,  # not a stack key
    "selfMonitoring.resources": "as `fleets[].resources`",
    # The receivers' spread is added when the pods are rendered, not by validation.
    "receive.scheduling": "soft spread across zones",
}
# Values this test supplies (a fleet needs a URL, an ingress a host).
SUPPLIED = {"fleets[].remoteWriteUrl", "kubernetes.ingress.host"}


def _default_cell(rows: dict[str, str], key: str) -> Optional[str]:
    row = rows.get(key)
    return row.split("|")[2] if row else None


def default_mismatches(rows: dict[str, str]) -> list[str]:
    from agentstream.sizing import Resources

    bad = []
    for key, value in sorted(_validated_defaults().items()):
        cell = _default_cell(rows, key)
        if cell is None or key in DERIVED or key in SUPPLIED:
            continue  # not a stack key (image, tenant header from receive, ...) or checked below
        if isinstance(value, Resources):
            words = _resources_words(value)
        elif isinstance(value, Mapping) and value and all(isinstance(v, Resources) for v in value.values()):
            words = [w for r in value.values() for w in _resources_words(r)]
        elif key.endswith(".scheduling"):
            words = ["none"] if value == {} else [f"`{value}`"]
        else:
            shown = _render(value)
            words = [f"`{shown}`"] if shown is not None else []
        for w in words:
            if w not in cell:
                bad.append(f"{key}: the code's default is {w}, the README's default column says {cell.strip()!r}")
    return bad


def test_documented_defaults_are_the_code_defaults(rows):
    checked = [k for k in _validated_defaults() if _default_cell(rows, k) is not None and k not in {*DERIVED, *SUPPLIED}]
    assert len(checked) > 60, checked  # the comparison covers the table, not a handful of rows
    assert default_mismatches(rows) == []


def test_derived_defaults_are_described_and_done():
    from agentstream.agent_fleet import validate_fleet_args
    from agentstream.receive_cluster import validate_receive_args

    text_rows = readme_rows((REPO / "README.md").read_text())
    for key, words in DERIVED.items():
        if words is not None:
            assert words in _default_cell(text_rows, key), (key, words)
    assert [validate_receive_args({"replicas": n}, "docker").replication_factor for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    url = {"remote_write_url": "http://r:19291/api/v1/receive"}
    fleet = validate_fleet_args("batmobile", dict(url), None, "docker")
    assert (fleet.cluster, fleet.tenant, fleet.kubernetes_sd) == ("batmobile", "batmobile", False)
    assert validate_fleet_args("batmobile", dict(url), None, "kubernetes").kubernetes_sd is True
    defaults = _validated_defaults()
    assert defaults["selfMonitoring.resources"] == defaults["fleets[].resources"]


def test_the_defaults_check_can_fail():
    """Control: a README default that differs from the code's is reported."""
    text = (REPO / "README.md").read_text()
    changed = text.replace("| `receive.retention` | `6h` |", "| `receive.retention` | `12h` |")
    assert changed != text
    assert any(m.startswith("receive.retention:") for m in default_mismatches(readme_rows(changed)))
    changed = text.replace("requests `250m`/`512Mi`", "requests `500m`/`512Mi`")
    assert changed != text
    assert any(m.startswith("receive.resources:") for m in default_mismatches(readme_rows(changed)))
