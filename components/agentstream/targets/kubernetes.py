"""Kubernetes target: renders workloads as ``pulumi_kubernetes`` objects.

A workload with volumes, or whose args name its instance, becomes a
StatefulSet behind a headless Service (stable pod DNS for the hashring);
anything else becomes a Deployment behind a ClusterIP Service. Pods run with
the restricted Pod Security profile, probes, requests and limits.

With ``ingress`` set, published ports that carry an ``ingress_path`` (remote
write) are also reachable from outside the cluster through one Ingress per
workload, so edge clusters can write to a central cluster.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional, TypedDict, Union

import pulumi
import pulumi_kubernetes as k8s

from ..settings import IngressSettings, KubernetesTargetSettings, frozen_map
from ..spec import INSTANCE_ARG, INSTANCE_ENV, ConfigFile, Port, Workload, live_directory
from ..validation import (
    DNS_SUBDOMAIN_RE,
    check_args,
    check_bool,
    check_dns_domain,
    check_duration,
    check_keys,
    check_name,
    check_object_name,
    duration_seconds,
)
from . import Deployed, Target

DEFAULT_NAMESPACE = "agentstream"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
INGRESS_KEYS = ("host", "class_name", "tls_secret_name", "annotations", "await_address", "address_timeout")
# How long `pulumi up` waits for the ingress controller to publish an address
# (the provider's own default is 10 minutes, after which the rest of the
# stack is never created).
DEFAULT_ADDRESS_TIMEOUT = "3m"


class IngressArgs(TypedDict, total=False):
    host: str
    """Public host name edges write to, e.g. ``receive.example.com`` (required)."""
    class_name: str
    """IngressClass (default: the cluster's default class)."""
    tls_secret_name: str
    """Secret holding the host's certificate; without it the ingress serves plain http."""
    annotations: dict[str, str]
    """Extra annotations for the ingress controller (body size, cert-manager issuer, ...)."""
    await_address: bool
    """Wait until the ingress controller publishes an address (default True). False: create
    the Ingress and move on (no controller yet, or addresses assigned out of band)."""
    address_timeout: str
    """How long to wait for that address before `pulumi up` fails (default ``3m``)."""


class KubernetesTargetArgs(TypedDict, total=False):
    namespace: str
    """Namespace for every object (default ``agentstream``)."""
    create_namespace: bool
    """Create the namespace (default True); False to use an existing one."""
    cluster_domain: str
    """Cluster DNS domain (default ``cluster.local``)."""
    storage_class: str
    """StorageClass for PVCs (default: the cluster default)."""
    ingress: IngressArgs
    """Expose remote write outside the cluster (default: not exposed)."""


def validate_ingress(ingress: object) -> Optional[IngressSettings]:
    """None (no ingress) or the checked ingress settings."""
    if ingress is None:
        return None
    ingress = check_keys("kubernetes.ingress", ingress, INGRESS_KEYS)
    host = ingress.get("host")
    if not isinstance(host, str) or "." not in host or len(host) > 253 or not DNS_SUBDOMAIN_RE.match(host):
        raise ValueError(
            f"kubernetes.ingress.host: {host!r} is not a host name; allowed: a fully qualified lower-case "
            "DNS name such as receive.example.com"
        )
    # Messages name the stack-config keys (camelCase), as elsewhere.
    for key, field in (("class_name", "className"), ("tls_secret_name", "tlsSecretName")):
        if ingress.get(key) is not None:
            check_object_name(f"kubernetes.ingress.{field}", ingress[key])
    annotations = ingress.get("annotations", {})
    if not isinstance(annotations, dict):
        raise ValueError(f"kubernetes.ingress.annotations: must be a mapping of string to string, not {annotations!r}")
    for k, v in annotations.items():
        if not isinstance(k, str) or not k:
            raise ValueError(f"kubernetes.ingress.annotations: key {k!r} must be a non-empty string")
        if not isinstance(v, str):
            # YAML reads `true`, `8` or `1.5` as a boolean or number; the API
            # server only takes strings and the controller would never see it.
            kind = "a boolean" if isinstance(v, bool) else "a number" if isinstance(v, (int, float)) else type(v).__name__
            raise ValueError(
                f"kubernetes.ingress.annotations.{k}: {v!r} is {kind}, but annotation values must be strings; "
                f"quote it in the stack config: {k}: \"{str(v).lower() if isinstance(v, bool) else v}\""
            )
    ingress = dict(ingress)
    if not check_bool("kubernetes.ingress.awaitAddress", ingress.setdefault("await_address", True)) and "address_timeout" in ingress:
        raise ValueError("kubernetes.ingress.addressTimeout: has no effect with awaitAddress false; allowed: remove one of the two")
    check_duration("kubernetes.ingress.addressTimeout", ingress.setdefault("address_timeout", DEFAULT_ADDRESS_TIMEOUT))
    return IngressSettings(**{**ingress, "annotations": frozen_map(annotations)})


def validate_kubernetes_args(args: Optional[KubernetesTargetArgs]) -> KubernetesTargetSettings:
    """The target's settings with defaults, or raise before anything exists."""
    a = check_args("KubernetesTargetArgs", args, KubernetesTargetArgs.__annotations__)
    check_name("kubernetes.namespace", a.setdefault("namespace", DEFAULT_NAMESPACE))
    # Every in-cluster address (the hashring, the agents' remote write) ends in it.
    check_dns_domain("kubernetes.clusterDomain", a.setdefault("cluster_domain", DEFAULT_CLUSTER_DOMAIN))
    storage_class = a.setdefault("storage_class", None)
    # None: the cluster's default class. "" is Kubernetes' own "no class":
    # bind only to pre-provisioned volumes, so it is kept as given.
    if storage_class is not None and storage_class != "":
        check_object_name("kubernetes.storageClass", storage_class)
    a["ingress"] = validate_ingress(a.get("ingress"))
    check_bool("kubernetes.createNamespace", a.setdefault("create_namespace", True))
    return KubernetesTargetSettings(**a)


class KubernetesTarget(Target):
    kind = "kubernetes"

    def __init__(
        self, name: str, args: Optional[KubernetesTargetArgs] = None, opts: Optional[pulumi.ResourceOptions] = None
    ):
        a = validate_kubernetes_args(args)
        self.settings: KubernetesTargetSettings = a
        self.namespace: str = a.namespace
        self.cluster_domain: str = a.cluster_domain
        self.storage_class: Optional[str] = a.storage_class
        self.ingress: Optional[IngressSettings] = a.ingress
        create_namespace: bool = a.create_namespace
        super().__init__("agentstream:index:KubernetesTarget", name, None, opts)
        self._prefix = name

        self.namespace_resource: Optional[k8s.core.v1.Namespace] = None
        if create_namespace:
            self.namespace_resource = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=self.namespace,
                    labels={
                        "app.kubernetes.io/part-of": "agentstream",
                        # Admission enforces what our pod specs already do.
                        "pod-security.kubernetes.io/enforce": "restricted",
                    },
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"namespace": self.namespace})

    # -- where ---------------------------------------------------------------
    def service_host(self, workload_name: str) -> str:
        return f"{workload_name}.{self.namespace}.svc.{self.cluster_domain}"

    def instance_host(self, workload_name: str, instance: str) -> str:
        return f"{instance}.{workload_name}.{self.namespace}.svc.{self.cluster_domain}"

    # -- how -----------------------------------------------------------------
    def deploy(
        self, workload: Workload, parent: pulumi.Resource, depends_on: Optional[list[pulumi.Resource]] = None
    ) -> Deployed:
        w = workload
        deployed = Deployed(workload=w)
        child = pulumi.ResourceOptions(
            parent=parent,
            depends_on=[r for r in [self.namespace_resource, *(depends_on or [])] if r is not None] or None,
        )
        labels = _labels(w)
        selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
        stateful = w.stateful

        def meta(name: str, extra: Optional[dict[str, str]] = None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self.namespace, labels={**labels, **(extra or {})})

        # Service account: only the agent needs API access (kubernetes_sd);
        # everyone else runs without a token mounted.
        sa = k8s.core.v1.ServiceAccount(
            f"{w.name}-sa",
            metadata=meta(w.name),
            automount_service_account_token=w.needs_kubernetes_discovery,
            opts=child,
        )
        deployed.resources.append(sa)
        if w.needs_kubernetes_discovery:
            deployed.resources += self._discovery_rbac(w, labels, child)

        # Config files: plain ones in a ConfigMap, secret ones in a Secret.
        volumes: list[k8s.core.v1.VolumeArgs] = [
            # Read-only root filesystem: give the binaries a writable /tmp.
            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
        ]
        mounts: list[k8s.core.v1.VolumeMountArgs] = [k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        live_dir = live_directory(w.config_files)
        live = [f for f in w.config_files if f.live]
        plain = [f for f in w.config_files if not f.secret and not f.live]
        secret = [f for f in w.config_files if f.secret]
        annotations: dict[str, pulumi.Input[str]] = {}
        # Config objects are auto-named (no metadata.name): the provider
        # replaces a ConfigMap or Secret whose data changes, and with a fixed
        # name that replacement deletes the old object first and takes every
        # dependent StatefulSet down with it (all agents at once). Auto-named,
        # the new object exists before the old one goes and the workload sees
        # an ordinary rolling update of its pod template.
        config_objects: list[pulumi.Output[str]] = []
        if plain:
            cm = k8s.core.v1.ConfigMap(
                f"{w.name}-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(namespace=self.namespace, labels=labels),
                data={_key(f): f.content for f in plain},
                opts=child,
            )
            deployed.resources.append(cm)
            volumes.append(k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=cm.metadata.name)))
            mounts += [k8s.core.v1.VolumeMountArgs(name="config", mount_path=f.path, sub_path=_key(f), read_only=True) for f in plain]
            config_objects.append(cm.metadata.name)
            config_objects += [pulumi.Output.from_input(f.content) for f in plain]
        secret_name: Optional[pulumi.Output[str]] = None
        if secret:
            sec = k8s.core.v1.Secret(
                f"{w.name}-secret",
                metadata=k8s.meta.v1.ObjectMetaArgs(namespace=self.namespace, labels=labels),
                string_data={_key(f): f.content for f in secret},
                type="Opaque",
                opts=child,
            )
            deployed.resources.append(sec)
            secret_name = sec.metadata.name
            # The Secret's (auto-generated) name, never its content, goes
            # into the hash: a short hash of a weak password can be brute-forced
            # by anyone who can read the pod spec. Changed content means a
            # replaced Secret, hence a new name.
            config_objects.append(secret_name)
            if secret:
                volumes.append(k8s.core.v1.VolumeArgs(name="secret", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret_name)))
                mounts += [k8s.core.v1.VolumeMountArgs(name="secret", mount_path=f.path, sub_path=_key(f), read_only=True) for f in secret]
        live_cm: Optional[k8s.core.v1.ConfigMap] = None
        if live and live_dir is not None:
            # Live files: a ConfigMap of their own under a fixed name, mounted
            # as a directory (no subPath), which the kubelet updates in place
            # in running pods (within its sync period, about a minute). The
            # pod template names it by that literal name and the workload
            # depends on it only for ordering, so a changed file changes
            # nothing in the template and restarts no pod; it is also kept
            # out of the config hash below. The provider replaces a
            # ConfigMap whose data changes (in place with its
            # enableConfigMapMutable option): with a fixed name it deletes
            # and re-creates it, and running pods keep their last copy until
            # the new one arrives. It waits for what the workload waits for
            # (a router tier: the receivers' StatefulSet, rolled out and
            # ready), so the routers' ring names a new receiver only once it
            # is ready. It cannot wait for its own workload (whose pods need
            # it to start): a receiver that routes itself may see a ring
            # naming a peer that is still starting; writes routed there fail
            # and are retried by the agents until it is ready.
            live_name = f"{w.name}-live"
            live_cm = k8s.core.v1.ConfigMap(
                f"{w.name}-live-config",
                metadata=meta(live_name),
                data={_key(f): f.content for f in live},
                opts=child,
            )
            deployed.resources.append(live_cm)
            volumes.append(k8s.core.v1.VolumeArgs(name="live", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=live_name)))
            mounts.append(k8s.core.v1.VolumeMountArgs(name="live", mount_path=live_dir, read_only=True))
        if config_objects:
            # subPath mounts never update in place, so every input that lives
            # outside the pod template (file contents, Outputs included, and the
            # config objects' names) is hashed into it: a change rolls the pods.
            annotations["agentstream.io/config-hash"] = pulumi.Output.all(*config_objects).apply(
                lambda parts: _hash("\0".join(str(p) for p in parts))
            )

        # Filesystem-shared volumes are Docker-only (validated by ObjectStore),
        # so every volume here is per-instance: a PVC template.
        claim_templates = []
        for v in w.volumes:
            mounts.append(k8s.core.v1.VolumeMountArgs(name=v.name, mount_path=v.mount_path))
            claim_templates.append(
                k8s.core.v1.PersistentVolumeClaimArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=v.name, labels=selector),
                    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteOnce"],
                        storage_class_name=self.storage_class if w.storage_class is None else w.storage_class,
                        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": v.size}),
                    ),
                )
            )

        env = [
            k8s.core.v1.EnvVarArgs(
                name=INSTANCE_ENV,
                value_from=k8s.core.v1.EnvVarSourceArgs(field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.name")),
            )
        ]
        env += [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(w.env.items())]

        uid = int(w.user)
        container = k8s.core.v1.ContainerArgs(
            name=w.component,
            image=w.image,
            command=w.command,
            args=list(w.args),
            env=env,
            ports=[k8s.core.v1.ContainerPortArgs(name=p.name, container_port=p.port) for p in w.ports],
            volume_mounts=mounts,
            readiness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path=w.health.ready_path, port=w.health.port),
                period_seconds=5,
                failure_threshold=3,
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path=w.health.live_path, port=w.health.port),
                initial_delay_seconds=w.health.start_period,
                period_seconds=10,
                failure_threshold=6,
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": w.resources.cpu_request, "memory": w.resources.memory_request},
                limits={"cpu": w.resources.cpu_limit, "memory": w.resources.memory_limit},
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                run_as_non_root=True,
                run_as_user=uid,
                read_only_root_filesystem=True,
                allow_privilege_escalation=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
        )
        pod = k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations=annotations or None),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=sa.metadata.name,
                automount_service_account_token=w.needs_kubernetes_discovery,
                security_context=k8s.core.v1.PodSecurityContextArgs(
                    run_as_non_root=True,
                    run_as_user=uid,
                    run_as_group=uid,
                    fs_group=uid,
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                containers=[container],
                volumes=volumes,
                termination_grace_period_seconds=w.stop_grace,
                # Raw Kubernetes objects (camelCase inside), checked by the components.
                node_selector=w.scheduling.node_selector,
                tolerations=w.scheduling.tolerations,  # type: ignore[arg-type]
                affinity=w.scheduling.affinity,  # type: ignore[arg-type]
                topology_spread_constraints=_spread(w, selector),  # type: ignore[arg-type]
                priority_class_name=w.scheduling.priority_class_name,
            ),
        )

        service_ports = [k8s.core.v1.ServicePortArgs(name=p.name, port=p.port, target_port=p.port) for p in w.ports]
        service = k8s.core.v1.Service(
            f"{w.name}-service",
            metadata=meta(w.name),
            spec=k8s.core.v1.ServiceSpecArgs(
                # Headless for StatefulSets: per-pod DNS names for the
                # hashring, and not-ready pods still resolve so receivers can
                # find each other while starting.
                cluster_ip="None" if stateful else None,
                publish_not_ready_addresses=True if stateful else None,
                selector=selector,
                ports=service_ports,
            ),
            opts=child,
        )
        deployed.resources.append(service)

        workload_resource: Union[k8s.apps.v1.StatefulSet, k8s.apps.v1.Deployment]
        if stateful:
            workload_resource = k8s.apps.v1.StatefulSet(
                f"{w.name}-statefulset",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=w.name, namespace=self.namespace, labels=labels, annotations=_rollout_wait(w.replicas)
                ),
                spec=k8s.apps.v1.StatefulSetSpecArgs(
                    service_name=w.name,
                    replicas=w.replicas,
                    # Receivers must start together to form the hashring.
                    pod_management_policy="Parallel",
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    template=pod,
                    volume_claim_templates=claim_templates or None,
                ),
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[service, *([live_cm] if live_cm else [])])
                ),
            )
        else:
            workload_resource = k8s.apps.v1.Deployment(
                f"{w.name}-deployment",
                metadata=meta(w.name),
                spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=w.replicas,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    template=pod,
                ),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[live_cm])) if live_cm else child,
            )
        deployed.resources.append(workload_resource)

        if w.max_unavailable is not None:
            deployed.resources.append(
                k8s.policy.v1.PodDisruptionBudget(
                    f"{w.name}-pdb",
                    metadata=meta(w.name),
                    spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                        max_unavailable=w.max_unavailable,
                        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    ),
                    opts=child,
                )
            )

        for p in w.ports:
            if p.publish:
                deployed.urls[p.name] = f"http://{self.service_host(w.name)}:{p.port}"
        exposed = [p for p in w.ports if p.publish and p.ingress_path]
        if self.ingress is not None and exposed:
            deployed.resources.append(self._ingress(w, self.ingress, exposed, child))
            scheme = "https" if self.ingress.tls_secret_name else "http"
            for p in exposed:
                deployed.urls[p.name] = f"{scheme}://{self.ingress.host}"
        # No one-shot helpers here: all of it is what a writer outlives (the
        # Service its remote write goes through included).
        deployed.servers = list(deployed.resources)
        return deployed

    def _ingress(
        self, w: Workload, ing: IngressSettings, ports: list[Port], child: pulumi.ResourceOptions
    ) -> pulumi.Resource:
        """The Ingress for ``ports`` of ``w``, by the checked ingress settings ``ing``."""
        tls = ing.tls_secret_name
        opts = child
        if ing.class_name:
            # Fail in the preview, before anything is created, when the
            # cluster has no such IngressClass (no controller installed):
            # otherwise the provider waits for an address that never comes
            # and every resource after the Ingress is left uncreated.
            ingress_class = k8s.networking.v1.IngressClass.get(
                f"{w.name}-ingress-class-must-exist", ing.class_name, opts=pulumi.ResourceOptions(parent=child.parent)
            )
            opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ingress_class]))
        return k8s.networking.v1.Ingress(
            f"{w.name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=w.name, namespace=self.namespace, labels=_labels(w), annotations=_ingress_annotations(ing)
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=ing.class_name,
                tls=[k8s.networking.v1.IngressTLSArgs(hosts=[ing.host], secret_name=tls)] if tls else None,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=ing.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path=p.ingress_path,
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=w.name, port=k8s.networking.v1.ServiceBackendPortArgs(name=p.name)
                                        )
                                    ),
                                )
                                for p in ports
                            ]
                        ),
                    )
                ],
            ),
            opts=opts,
        )

    def _discovery_rbac(self, w: Workload, labels: dict[str, str], child: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        # Cluster-wide read of pods/services/endpoints: annotation-based
        # scraping must see workloads in every namespace.
        name = f"{self.namespace}-{w.name}-discovery"
        role = k8s.rbac.v1.ClusterRole(
            f"{w.name}-discovery-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=labels),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods", "services", "endpoints", "nodes"], verbs=["get", "list", "watch"]
                ),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["discovery.k8s.io"], resources=["endpointslices"], verbs=["get", "list", "watch"]
                ),
            ],
            opts=child,
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{w.name}-discovery-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=w.name, namespace=self.namespace)],
            opts=child,
        )
        return [role, binding]


def _labels(w: Workload) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": w.component,
        "app.kubernetes.io/instance": w.name,
        "app.kubernetes.io/component": w.component,
        "app.kubernetes.io/part-of": w.part_of,
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/version": w.image.rsplit(":", 1)[-1][:63],
    }


def _spread(w: Workload, selector: dict[str, str]) -> Optional[list[dict[str, Any]]]:
    """The pods' topology spread: the workload's own, else for ``spread_zones``
    a soft spread across zones (without zones every node is in the same
    empty one, so it never blocks), else none."""
    if w.scheduling.topology_spread_constraints is not None:
        return w.scheduling.topology_spread_constraints or None
    if not w.scheduling.spread_zones:
        return None
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]


def _ingress_annotations(ing: IngressSettings) -> dict[str, str]:
    """The user's annotations plus the provider's await settings (pulumi.com/*)."""
    if ing.await_address:
        wait = {"pulumi.com/timeoutSeconds": str(duration_seconds(ing.address_timeout))}
    else:
        wait = {"pulumi.com/skipAwait": "true"}
    return {**ing.annotations, **wait}


def _rollout_wait(replicas: int) -> dict[str, str]:
    """Make `pulumi up` wait until a StatefulSet's rollout has finished.

    The provider's built-in StatefulSet await compares the status' revisions
    without checking ``status.observedGeneration``: right after an update it
    reads the previous generation's status (all ready, revisions equal) and
    reports the update done before the controller has replaced a single pod.
    Its ``waitFor`` JSONPath conditions do wait for the current generation to
    be observed, and then for every replica to run the new template and be
    ready.
    """
    return {
        "pulumi.com/waitFor": json.dumps(
            [f"jsonpath={{.status.updatedReplicas}}={replicas}", f"jsonpath={{.status.readyReplicas}}={replicas}"]
        )
    }


def _key(f: ConfigFile) -> str:
    return f.path.rsplit("/", 1)[-1]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
