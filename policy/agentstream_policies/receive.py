"""Thanos Receive and the bucket: replication factor, write limits, disruption
budgets, hashrings whose receivers exist, and one compactor per bucket.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .config import DEFAULT_ALLOW_UNLIMITED_WRITES, RF_SCHEMA, UNLIMITED_WRITES_SCHEMA, rf1_allowed, stack_allowed
from .model import (
    K8S_LONG_RUNNING,
    K8S_PDB,
    UNKNOWN,
    Container,
    Stack,
    Workload,
    as_dict,
    as_int,
    as_list,
    dig,
    parse_yaml,
    stack_of,
    unknown_during_preview,
    workload_of,
)


# -- replication factor ------------------------------------------------------------------
def _routes(c: Container) -> bool:
    return c.has_flag("--receive.hashrings-file") or c.has_flag("--receive.hashrings")


def receive_replication_factor(c: Container) -> Optional[int]:
    """RF of a routing receiver (Thanos' default is 1); None if it does not route."""
    if c.thanos_subcommand() != "receive" or not _routes(c):
        return None
    values = c.flag("--receive.replication-factor")
    return as_int(values[-1], 0) if values else 1


def validate_receive_replication_factor(args: ResourceValidationArgs, report: ReportViolation) -> None:
    w = workload_of(args.resource_type, args.urn, args.name, args.props)
    if w is None:
        return
    config = args.get_config()
    for c in w.containers:
        rf = receive_replication_factor(c)
        if rf is None or rf >= 2:
            continue
        if rf1_allowed(config, args.urn):
            continue
        report(
            f"{w.describe()} runs Thanos Receive with replication factor {rf} "
            f"(--receive.replication-factor): losing one receiver loses writes. Use 2 or more (3 recommended), "
            f"or list stack '{stack_of(args.urn)}' in allowReplicationFactorOne.",
            None,
        )


REPLICATION_FACTOR = ResourceValidationPolicy(
    name="receive-replication-factor",
    description="Thanos Receive runs with replication factor 2 or more, except in stacks the config allows RF=1.",
    validate=validate_receive_replication_factor,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=RF_SCHEMA,
)


# -- write limits ----------------------------------------------------------------------------
def validate_receive_write_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # Only routing receivers take remote write from agents; ingest-only ones
    # behind a router tier get writes over gRPC, where limits do not apply.
    w = workload_of(args.resource_type, args.urn, args.name, args.props)
    if w is None:
        return
    if stack_allowed(args.get_config().get("allowUnlimitedWrites", DEFAULT_ALLOW_UNLIMITED_WRITES), args.urn):
        return
    for c in w.containers:
        if c.thanos_subcommand() != "receive" or not _routes(c):
            continue
        if c.has_flag("--receive.limits-config-file") or c.has_flag("--receive.limits-config"):
            continue
        report(
            f"{w.describe()} takes remote write with no write limits (--receive.limits-config-file): "
            "one misbehaving edge can overload every receiver. Set receive.limits, "
            f"or list stack '{stack_of(args.urn)}' in allowUnlimitedWrites.",
            None,
        )


WRITE_LIMITS = ResourceValidationPolicy(
    name="receive-write-limits",
    description="Thanos Receive routers load write limits, except in stacks the config exempts.",
    validate=validate_receive_write_limits,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    config_schema=UNLIMITED_WRITES_SCHEMA,
)


# -- disruption budgets -----------------------------------------------------------------------
def _ceil_percent(value: str, total: int) -> Optional[int]:
    if isinstance(value, str) and value.endswith("%") and value[:-1].strip().isdigit():
        return math.ceil(int(value[:-1]) * total / 100)
    return None


def _selector_matches(selector: Any, labels: dict) -> bool:
    selector = as_dict(selector)
    match_labels = as_dict(selector.get("matchLabels"))
    expressions = as_list(selector.get("matchExpressions"))
    if not match_labels and not expressions:
        return True  # an empty selector selects every pod in the namespace
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for e in expressions:
        e = as_dict(e)
        key, op, values = e.get("key"), e.get("operator"), as_list(e.get("values"))
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def replication_factor_for(stack: Stack, w: Workload) -> int:
    """RF of the hashring a receive workload belongs to."""
    own = [rf for c in w.containers if (rf := receive_replication_factor(c)) is not None]
    if own:
        return max(own)
    group = stack.group_key(w.urn)
    rfs = [
        rf
        for other in stack.workloads
        if stack.group_key(other.urn) == group
        for c in other.containers
        if (rf := receive_replication_factor(c)) is not None
    ]
    return max(rfs) if rfs else 1


def validate_receive_pdb(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    stack = Stack(args.resources)
    for w in stack.workloads:
        if w.target != "kubernetes" or w.type not in K8S_LONG_RUNNING:
            continue
        ingest = [c for c in w.containers if c.thanos_subcommand() == "receive" and c.has_flag("--receive.local-endpoint")]
        if not ingest:
            continue
        if rf1_allowed(config, w.urn):
            continue
        rf = replication_factor_for(stack, w)
        tolerated = rf // 2
        replicas = w.replicas or 1
        pdbs = [
            p for p in stack.of_type(K8S_PDB)
            if (dig(p.props, "metadata", "namespace") or "default") == w.namespace
            and _selector_matches(dig(p.props, "spec", "selector"), w.labels)
        ]
        if not pdbs:
            report(
                f"{w.describe()} runs Thanos Receive (replication factor {rf}) without a PodDisruptionBudget; "
                f"add one selecting its pods with maxUnavailable: {tolerated} (floor(RF/2)) so a node drain "
                f"cannot take down more receivers than the write quorum tolerates.",
                w.urn,
            )
            continue
        for pdb in pdbs:
            spec = as_dict(pdb.props.get("spec"))
            max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
            allowed: Optional[int] = None
            if max_unavailable is not None and max_unavailable is not UNKNOWN:
                allowed = as_int(max_unavailable)
                if allowed is None:
                    allowed = _ceil_percent(max_unavailable, replicas)
            elif min_available is not None and min_available is not UNKNOWN:
                floor_ = as_int(min_available)
                if floor_ is None:
                    floor_ = _ceil_percent(min_available, replicas)
                allowed = None if floor_ is None else replicas - floor_
            # With RF < 2 receive-replication-factor already objects; a budget
            # cannot make a single copy safe, so only its presence is checked.
            if allowed is not None and rf >= 2 and allowed > tolerated:
                pdb_name = dig(pdb.props, "metadata", "name") or pdb.name
                report(
                    f"PodDisruptionBudget {pdb_name} lets {allowed} of {w.describe()}'s receivers go down at once; "
                    f"with replication factor {rf} at most {tolerated} (floor(RF/2)) may be unavailable.",
                    pdb.urn,
                )


POD_DISRUPTION_BUDGET = StackValidationPolicy(
    name="receive-pod-disruption-budget",
    description="On Kubernetes, Thanos Receive has a PodDisruptionBudget allowing at most floor(RF/2) receivers down.",
    validate=validate_receive_pdb,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=RF_SCHEMA,
)


# -- hashrings -----------------------------------------------------------------------------------
def _k8s_expand(arg: str, env: Mapping[str, Any]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command and args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: str(env.get(m.group(1), m.group(0))), arg)


def _hashring_endpoints(text: Any) -> Optional[list[tuple[str, list[str]]]]:
    try:
        doc = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(doc, list):
        return None
    rings = []
    for i, ring in enumerate(doc):
        ring = as_dict(ring)
        endpoints = []
        for e in as_list(ring.get("endpoints")):
            if isinstance(e, str):
                endpoints.append(e)
            elif isinstance(e, dict) and isinstance(e.get("address"), str):
                endpoints.append(e["address"])
        rings.append((str(ring.get("hashring") or f"#{i}"), endpoints))
    return rings


def validate_hashring(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    served: dict[str, dict[str, str]] = defaultdict(dict)    # group -> endpoint -> instance
    rings: list[tuple[str, Workload, str, Any]] = []       # (group, workload, path, content)
    for w in stack.workloads:
        group = stack.group_key(w.urn)
        for c in w.containers:
            if c.thanos_subcommand() != "receive":
                continue
            for endpoint in c.flag("--receive.local-endpoint"):
                for instance in w.instance_names():
                    served[group][_k8s_expand(endpoint, stack.instance_env(w, c, instance))] = instance
            for path in c.flag("--receive.hashrings-file"):
                rings.append((group, w, path, stack.file_content(w, c, path)))
            for inline in c.flag("--receive.hashrings"):
                rings.append((group, w, "--receive.hashrings", inline))
    for group, w, path, content in rings:
        if content is UNKNOWN:
            raise unknown_during_preview(f"{w.describe()} {path}")
        if content is None:
            continue  # not managed by this stack
        parsed = _hashring_endpoints(content)
        if parsed is None:
            report(f"{w.describe()}: {path} is not a valid hashring file (a JSON array of hashrings).", w.urn)
            continue
        known = served.get(group, {})
        for ring, endpoints in parsed:
            if not endpoints:
                report(f"{w.describe()}: hashring '{ring}' in {path} lists no receivers.", w.urn)
            for endpoint in endpoints:
                if endpoint not in known:
                    listed = ", ".join(sorted(known)) or "none"
                    report(
                        f"{w.describe()}: hashring '{ring}' in {path} lists '{endpoint}', but no receiver in "
                        f"{stack.group_name(group)} serves that endpoint (--receive.local-endpoint of its "
                        f"receivers: {listed}); writes routed there fail.",
                        w.urn,
                    )


HASHRING_RECEIVERS_EXIST = StackValidationPolicy(
    name="hashring-receivers-exist",
    description="Every ReceiveCluster's hashring lists only receivers that exist.",
    validate=validate_hashring,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


# -- one compactor per bucket --------------------------------------------------------------------
_BUCKET_KEYS = ("bucket", "container", "container_name", "endpoint", "storage_account", "project_id", "directory", "name")


def bucket_identity(text: Any, w: Workload, c: Container) -> Optional[tuple]:
    doc = parse_yaml(text)
    if not isinstance(doc, dict):
        return None
    kind = str(doc.get("type", "")).upper()
    config = as_dict(doc.get("config"))
    ident = [kind, str(doc.get("prefix") or "")]
    for key in _BUCKET_KEYS:
        value = config.get(key)
        if isinstance(value, str):
            value = re.sub(r"^https?://", "", value.strip().lower()).rstrip("/")
        ident.append((key, value))
    if kind == "FILESYSTEM":
        directory = str(config.get("directory") or "")
        if w.target == "docker":
            for v in as_list(w.props.get("volumes")):
                if isinstance(v, dict) and directory.startswith(str(v.get("containerPath") or "\0")):
                    ident.append(("volume", v.get("volumeName") or v.get("hostPath")))
        else:
            ident.append(("pod", w.urn))  # per-pod volumes: a bucket per workload
    return tuple(ident)


def validate_one_compactor(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    compactors: dict[tuple, list[tuple[Workload, int]]] = defaultdict(list)
    for w in stack.workloads:
        for c in w.containers:
            if c.thanos_subcommand() != "compact":
                continue
            count = w.replicas if w.replicas is not None else 2  # DaemonSet: one per node
            if count <= 0:
                continue
            inline = c.flag("--objstore.config")
            files = c.flag("--objstore.config-file")
            text = inline[-1] if inline else (stack.file_content(w, c, files[-1]) if files else None)
            ident = bucket_identity(text, w, c) if text not in (None, UNKNOWN) else None
            if ident is None:
                # Not known during a first preview (generated credentials): the
                # compactors of one ReceiveCluster share its bucket.
                ident = ("same ReceiveCluster", stack.group_key(w.urn) or w.urn)
            compactors[ident].append((w, count))
    for ident, found in compactors.items():
        total = sum(n for _, n in found)
        if total <= 1:
            continue
        names = ", ".join(f"{w.describe()} ({'one per node' if w.replicas is None else n})" for w, n in found)
        bucket = next((v for k, v in ident[2:] if k in ("bucket", "container", "directory") and v), None) if ident[0] != "same ReceiveCluster" else None
        target = f"bucket '{bucket}'" if bucket else "the same bucket"
        for w, _ in found:
            report(
                f"{total} compactor instances run against {target}: {names}. Thanos Compact must be a "
                "singleton per bucket, or concurrent compactions corrupt the block view.",
                w.urn,
            )


ONE_COMPACTOR = StackValidationPolicy(
    name="one-compactor-per-bucket",
    description="Exactly one Thanos Compact instance runs per bucket.",
    validate=validate_one_compactor,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
)
