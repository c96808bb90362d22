"""Kubernetes pods: the "restricted" Pod Security profile (non-root, read-only
root filesystem, no privilege escalation, capabilities dropped, seccomp), no
host paths or host namespaces, requests and limits, health probes.

Pod-bearing kinds are those of :data:`model.K8S_POD_TYPES`; the checks cover
every container, init container and ephemeral container.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .model import (
    K8S_LONG_RUNNING,
    K8S_PERSISTENT_VOLUME,
    K8S_POD_TYPES,
    Container,
    Workload,
    as_dict,
    as_int,
    as_list,
    dig,
    plain,
    workload_of,
)


def _k8s_containers(args: ResourceValidationArgs) -> Optional[Workload]:
    if args.resource_type not in K8S_POD_TYPES:
        return None
    return workload_of(args.resource_type, args.urn, args.name, args.props)


def _effective(c: Container, w: Workload, key: str) -> Any:
    value = dig(c.raw, "securityContext", key)
    if value is None:
        value = dig(w.pod_spec, "securityContext", key)
    return value


def _container_policy(
    name: str, description: str, check: Callable[[Container, Workload], Optional[str]], level: EnforcementLevel, severity: Severity
) -> ResourceValidationPolicy:
    """A policy that applies ``check`` to every container of a pod-bearing object."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        w = _k8s_containers(args)
        if w is None:
            return
        for c in w.containers:
            problem = check(c, w)
            if problem:
                report(f"{w.describe()} container {c.name}: {problem}.", None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=level, severity=severity
    )


def _check_non_root(c: Container, w: Workload) -> Optional[str]:
    user = _effective(c, w, "runAsUser")
    if as_int(user) == 0:
        return "runs as UID 0 (runAsUser: 0); run as a non-root UID"
    if _effective(c, w, "runAsNonRoot") is not True:
        return "does not set runAsNonRoot: true (pod or container securityContext)"
    return None


RUN_AS_NON_ROOT = _container_policy(
    "k8s-run-as-non-root",
    "Pods run as non-root (runAsNonRoot: true, never UID 0).",
    _check_non_root, EnforcementLevel.MANDATORY, Severity.HIGH,
)


def _check_read_only_root(c: Container, w: Workload) -> Optional[str]:
    if dig(c.raw, "securityContext", "readOnlyRootFilesystem") is not True:
        return "root filesystem is writable; set securityContext.readOnlyRootFilesystem: true (mount an emptyDir for scratch space)"
    return None


READ_ONLY_ROOT_FILESYSTEM = _container_policy(
    "k8s-read-only-root-filesystem",
    "Containers have a read-only root filesystem.",
    _check_read_only_root, EnforcementLevel.MANDATORY, Severity.MEDIUM,
)


def _check_no_escalation(c: Container, w: Workload) -> Optional[str]:
    if dig(c.raw, "securityContext", "privileged") is True:
        return "runs privileged (securityContext.privileged: true)"
    if dig(c.raw, "securityContext", "allowPrivilegeEscalation") is not False:
        return "allows privilege escalation; set securityContext.allowPrivilegeEscalation: false"
    return None


NO_PRIVILEGE_ESCALATION = _container_policy(
    "k8s-no-privilege-escalation",
    "Containers are not privileged and set allowPrivilegeEscalation: false.",
    _check_no_escalation, EnforcementLevel.MANDATORY, Severity.HIGH,
)


def _check_drop_all(c: Container, w: Workload) -> Optional[str]:
    caps = as_dict(dig(c.raw, "securityContext", "capabilities"))
    drop = [str(x).upper() for x in as_list(caps.get("drop"))]
    if "ALL" not in drop:
        return "does not drop ALL capabilities; set securityContext.capabilities.drop: [ALL]"
    added = [str(x).upper() for x in as_list(caps.get("add")) if str(x).upper() not in ("NET_BIND_SERVICE",)]
    if added:
        return f"adds capabilities {added}; only NET_BIND_SERVICE may be added back"
    return None


DROP_ALL_CAPABILITIES = _container_policy(
    "k8s-drop-all-capabilities",
    "Containers drop ALL capabilities (adding back at most NET_BIND_SERVICE).",
    _check_drop_all, EnforcementLevel.MANDATORY, Severity.MEDIUM,
)


def _check_resources(c: Container, w: Workload) -> Optional[str]:
    resources = as_dict(c.raw.get("resources"))
    missing = [
        f"{kind}.{res}"
        for kind in ("requests", "limits")
        for res in ("cpu", "memory")
        if as_dict(resources.get(kind)).get(res) in (None, "")
    ]
    if missing:
        return f"has no {', '.join('resources.' + m for m in missing)}"
    return None


RESOURCE_REQUESTS_LIMITS = _container_policy(
    "k8s-resource-requests-limits",
    "Containers set cpu and memory requests and limits.",
    _check_resources, EnforcementLevel.MANDATORY, Severity.MEDIUM,
)


def _check_seccomp(c: Container, w: Workload) -> Optional[str]:
    profile = _effective(c, w, "seccompProfile")
    if as_dict(profile).get("type") not in ("RuntimeDefault", "Localhost"):
        return "has no seccompProfile of type RuntimeDefault (pod or container securityContext)"
    return None


SECCOMP_RUNTIME_DEFAULT = _container_policy(
    "k8s-seccomp-runtime-default",
    "Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
    _check_seccomp, EnforcementLevel.ADVISORY, Severity.LOW,
)


def _check_probes(c: Container, w: Workload) -> Optional[str]:
    if c.init or w.type not in K8S_LONG_RUNNING:
        return None
    missing = [p for p in ("readinessProbe", "livenessProbe") if not c.raw.get(p)]
    if missing:
        return f"has no {' or '.join(missing)}"
    return None


HEALTH_PROBES = _container_policy(
    "k8s-health-probes",
    "Long-running containers have readiness and liveness probes.",
    _check_probes, EnforcementLevel.ADVISORY, Severity.LOW,
)


def validate_no_host_path(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == K8S_PERSISTENT_VOLUME:
        if dig(plain(args.props), "spec", "hostPath"):
            report(f"PersistentVolume {args.name} is a hostPath volume; use a StorageClass-backed volume.", None)
        return
    w = _k8s_containers(args)
    if w is None:
        return
    for vol in as_list(w.pod_spec.get("volumes")):
        if isinstance(vol, dict) and vol.get("hostPath"):
            path = dig(vol, "hostPath", "path")
            report(f"{w.describe()} mounts hostPath '{path}' (volume {vol.get('name')}); use a PVC, emptyDir, ConfigMap or Secret.", None)


NO_HOST_PATH = ResourceValidationPolicy(
    name="k8s-no-host-path",
    description="No hostPath volumes.",
    validate=validate_no_host_path,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


def validate_no_host_namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    w = _k8s_containers(args)
    if w is None:
        return
    for key, what in (("hostNetwork", "network"), ("hostPID", "process"), ("hostIPC", "IPC")):
        if w.pod_spec.get(key) is True:
            report(f"{w.describe()} sets {key}: true and shares the node's {what} namespace.", None)


NO_HOST_NAMESPACES = ResourceValidationPolicy(
    name="k8s-no-host-namespaces",
    description="Pods do not share the node's network, PID or IPC namespace (hostNetwork, hostPID, hostIPC).",
    validate=validate_no_host_namespaces,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)
