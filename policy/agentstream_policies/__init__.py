"""The agentstream CrossGuard policies, importable without starting a server.

``PolicyPack(...)`` starts a gRPC server and blocks, so it is built only in
``__main__.py`` (the pack's entry point), from :func:`pack_kwargs`. Everything
else lives in this package, one module per concern, each policy object next to
its validate function:

- ``model``: reading what the engine sends (:func:`plain`, :func:`dig`,
  unknowns), the target-neutral :class:`Workload`/:class:`Container`, and the
  :class:`Stack` view for stack policies;
- ``config``: the policies' settings, their defaults and config schemas;
- ``images``: images-pinned (the rule is ``pinning``, shared with the
  agentstream components);
- ``receive``: replication factor, write limits, disruption budgets,
  hashrings, one compactor per bucket;
- ``credentials``, ``remote_write``, ``labels``: credentials as secrets, safe
  remote write, unique agent external labels;
- ``kubernetes``, ``docker``: pod security and container hygiene per target.

This module collects the policies into :data:`POLICIES`, in the order the
pack reports them.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel

from . import credentials, docker, images, kubernetes, labels, receive, remote_write
from .credentials import credential_text, validate_credentials_as_secrets
from .images import image_problem, validate_images_pinned
from .kubernetes import validate_no_host_namespaces, validate_no_host_path
from .labels import expand_env, validate_agent_labels
from .model import (
    DOCKER_CONTAINER,
    DOCKER_IMAGE,
    DOCKER_REMOTE_IMAGE,
    K8S_CONFIG_MAP,
    K8S_LONG_RUNNING,
    K8S_PDB,
    K8S_PERSISTENT_VOLUME,
    K8S_POD_TYPES,
    K8S_SECRET,
    RECEIVE_CLUSTER,
    UNKNOWN,
    Container,
    EnvVar,
    Stack,
    Workload,
    dig,
    plain,
    workload_of,
)
from .receive import (
    bucket_identity,
    receive_replication_factor,
    validate_hashring,
    validate_one_compactor,
    validate_receive_pdb,
    validate_receive_replication_factor,
    validate_receive_write_limits,
)
from .remote_write import insecure_remote_write, remote_write_urls, validate_remote_write

PACK_NAME = "agentstream"
PACK_DESCRIPTION = (
    "Guardrails for agentstream stacks: pinned images, replicated Receive, credentials only as secrets, "
    "unique agent labels, safe remote write, restricted pods and containers, one compactor per bucket, "
    "consistent hashrings."
)

POLICIES = [
    # Everywhere
    images.IMAGES_PINNED,
    receive.REPLICATION_FACTOR,
    receive.POD_DISRUPTION_BUDGET,
    credentials.CREDENTIALS_AS_SECRETS,
    receive.WRITE_LIMITS,
    labels.EXTERNAL_LABELS_UNIQUE,
    remote_write.SECURE_TARGET,
    # Kubernetes
    kubernetes.RUN_AS_NON_ROOT,
    kubernetes.READ_ONLY_ROOT_FILESYSTEM,
    kubernetes.NO_PRIVILEGE_ESCALATION,
    kubernetes.DROP_ALL_CAPABILITIES,
    kubernetes.RESOURCE_REQUESTS_LIMITS,
    kubernetes.NO_HOST_PATH,
    kubernetes.NO_HOST_NAMESPACES,
    kubernetes.SECCOMP_RUNTIME_DEFAULT,
    kubernetes.HEALTH_PROBES,
    # Docker
    docker.NO_PRIVILEGED,
    docker.NO_HOST_NETWORK,
    docker.PORTS_LOCALHOST,
    docker.HEALTHCHECK_AND_RESTART,
    # Stack-level
    receive.ONE_COMPACTOR,
    receive.HASHRING_RECEIVERS_EXIST,
]


def pack_kwargs() -> dict[str, Any]:
    """Arguments for ``PolicyPack`` (used by ``__main__.py`` and the tests)."""
    return {
        "name": PACK_NAME,
        "description": PACK_DESCRIPTION,
        "policies": POLICIES,
        "enforcement_level": EnforcementLevel.MANDATORY,
    }


__all__ = [
    "DOCKER_CONTAINER",
    "DOCKER_IMAGE",
    "DOCKER_REMOTE_IMAGE",
    "K8S_CONFIG_MAP",
    "K8S_LONG_RUNNING",
    "K8S_PDB",
    "K8S_PERSISTENT_VOLUME",
    "K8S_POD_TYPES",
    "K8S_SECRET",
    "PACK_DESCRIPTION",
    "PACK_NAME",
    "POLICIES",
    "RECEIVE_CLUSTER",
    "UNKNOWN",
    "Container",
    "EnvVar",
    "Stack",
    "Workload",
    "bucket_identity",
    "credential_text",
    "dig",
    "expand_env",
    "image_problem",
    "insecure_remote_write",
    "pack_kwargs",
    "plain",
    "receive_replication_factor",
    "remote_write_urls",
    "validate_agent_labels",
    "validate_credentials_as_secrets",
    "validate_hashring",
    "validate_images_pinned",
    "validate_no_host_namespaces",
    "validate_no_host_path",
    "validate_one_compactor",
    "validate_receive_pdb",
    "validate_receive_replication_factor",
    "validate_receive_write_limits",
    "validate_remote_write",
    "workload_of",
]
