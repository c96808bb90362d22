"""agent-external-labels-unique: every Prometheus agent instance has its own set
of external labels, as Prometheus expands them per instance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .model import UNKNOWN, Stack, as_dict, dig, parse_yaml, unknown_during_preview

_EXPAND_RE = re.compile(r"\$(\{([^}]*)\}|[A-Za-z_][A-Za-z0-9_]*|\$)")


def expand_env(text: str, env: Mapping[str, Any]) -> str:
    """Prometheus' expansion of ``$VAR``/``${VAR}`` in external labels (undefined: empty)."""

    def sub(m: re.Match) -> str:
        token = m.group(1)
        if token == "$":
            return "$"
        name = m.group(2) if m.group(2) is not None else token
        value = env.get(name, "")
        return value if isinstance(value, str) else f"<{name}>"

    return _EXPAND_RE.sub(sub, text)


def validate_agent_labels(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    seen: dict[frozenset, tuple[str, str]] = {}
    for w in stack.workloads:
        for c in w.containers:
            if not c.is_prometheus_agent():
                continue
            path = (c.flag("--config.file") or ["/etc/prometheus/prometheus.yml"])[-1]
            text = stack.file_content(w, c, path)
            if text is UNKNOWN:
                raise unknown_during_preview(f"{w.describe()} {path}")
            doc = parse_yaml(text)
            if not isinstance(doc, dict):
                continue  # the config is not part of this stack
            labels = as_dict(dig(doc, "global", "external_labels"))
            for instance in w.instance_names():
                env = stack.instance_env(w, c, instance)
                expanded = frozenset((str(k), expand_env(str(v), env)) for k, v in labels.items())
                where = f"{w.describe()} instance {instance}"
                if not expanded:
                    report(f"{where} has no external labels; give every agent cluster and replica labels.", w.urn)
                    continue
                if expanded in seen:
                    other_where, other_urn = seen[expanded]
                    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(expanded))
                    report(
                        f"{where} has the same external labels as {other_where} ({shown}); "
                        "their series collide in Receive and Query cannot tell them apart. Give each agent a "
                        "unique replica label (e.g. from ${INSTANCE}).",
                        w.urn,
                    )
                else:
                    seen[expanded] = (where, w.urn)


EXTERNAL_LABELS_UNIQUE = StackValidationPolicy(
    name="agent-external-labels-unique",
    description="Every Prometheus agent instance has a unique set of external labels.",
    validate=validate_agent_labels,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)
