"""Each policy: a compliant case and a violating case, on the resources the shipped stacks produce.

The compliant case is the shipped stack itself (the policy must stay silent
on it, and it must contain what the policy inspects). The violating cases
change one thing in a real run's resources, the way a hand-written program or
a regression in a component could, and expect that policy, and only that
policy, to object, with its message.
"""

from __future__ import annotations

import copy
import json
from typing import Callable, Optional

import pytest

from tests.policy.engine import EngineResource, find, unwrap

import agentstream_policies as P

DIGEST = "sha256:" + "ab" * 32
Mutation = Callable[[list[EngineResource]], Optional[str]]  # returns the URN expected to be flagged (or None)


# -- helpers to reach into wire-form props ---------------------------------------------------------
def container(resources, name: str) -> dict:
    return find(resources, name, P.DOCKER_CONTAINER).props


def pod_spec(resources, name: str) -> dict:
    r = next(r for r in resources if r.name == name and r.type in P.K8S_POD_TYPES)
    return r.props["spec"]["template"]["spec"]


def k8s_container(resources, name: str) -> dict:
    return pod_spec(resources, name)["containers"][0]


def urn(resources, name: str) -> str:
    return find(resources, name).urn


def upload(props: dict, path: str) -> dict:
    return next(u for u in props["uploads"] if u["file"] == path)


def edit_text(holder: dict, key: str, edit: Callable[[str], str]) -> None:
    value = holder[key]
    if isinstance(value, dict) and "value" in value:  # a tagged secret
        value["value"] = edit(value["value"])
    else:
        holder[key] = edit(value)


def check(pack, resources, policy: str, expected_text: str, flagged: Optional[str], config=None, also=()):
    analysis = pack.analyze(resources, config)
    description = next(p.description for p in P.POLICIES if p.name == policy)
    level = next(p.enforcement_level.value for p in P.POLICIES if p.name == policy)
    found = analysis.of(policy)
    assert found, f"{policy} did not fire:\n{analysis.report()}"
    assert {d.policy for d in analysis.diagnostics} <= {policy, *also}, analysis.report()
    for d in found:
        assert d.level == level
        assert d.message.startswith(description + "\n"), d.message
    assert any(expected_text in d.message for d in found), analysis.report()
    if flagged is not None:
        assert flagged in {d.urn for d in found}, analysis.report()
    return found


# -- the cases ----------------------------------------------------------------------------------------
def untagged_remote_image(rs):
    r = next(r for r in rs if r.type == P.DOCKER_REMOTE_IMAGE and "prometheus" in r.props["name"])
    r.props["name"] = "quay.io/prometheus/prometheus"
    return r.urn


def latest_k8s_image(rs):
    k8s_container(rs, "central-store-statefulset")["image"] = "quay.io/thanos/thanos:latest"
    return urn(rs, "central-store-statefulset")


def floating_tag_image(rs):
    k8s_container(rs, "central-query-deployment")["image"] = "quay.io/thanos/thanos:main"
    return urn(rs, "central-query-deployment")


def drop_flag(rs, workload: str, flag: str) -> str:
    args = k8s_container(rs, workload)["args"]
    args[:] = [a for a in args if not a.startswith(flag)]
    return urn(rs, workload)


def router_without_rf(rs):
    return drop_flag(rs, "central-router-statefulset", "--receive.replication-factor")


def router_without_limits(rs):
    return drop_flag(rs, "central-router-statefulset", "--receive.limits-config-file")


def receivers_without_limits_central(rs):
    # No router tier in the central stack: every receiver takes remote write.
    return drop_flag(rs, "central-receive-statefulset", "--receive.limits-config-file")


def dev_as_is(rs):
    return urn(rs, "central-receive-0")


def receive_without_pdb(rs):
    rs[:] = [r for r in rs if r.name != "central-receive-pdb"]
    return urn(rs, "central-receive-statefulset")


def pdb_too_loose(rs):
    find(rs, "central-receive-pdb").props["spec"]["maxUnavailable"] = 2
    return urn(rs, "central-receive-pdb")


def pdb_selects_other_pods(rs):
    find(rs, "central-receive-pdb").props["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "store"
    return urn(rs, "central-receive-statefulset")


def docker_secret_env(rs):
    container(rs, "objstore-seaweedfs-0")["envs"].append("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG")
    return urn(rs, "objstore-seaweedfs-0")


def inline_objstore_arg(rs):
    props = container(rs, "central-compact-0")
    text = unwrap(upload(props, "/etc/thanos/objstore.yml")["content"])
    props["command"] = [a for a in props["command"] if not a.startswith("--objstore.config-file")] + [f"--objstore.config={text}"]
    return urn(rs, "central-compact-0")


def secret_key_flag(rs):
    k8s_container(rs, "objstore-seaweedfs-statefulset")["args"].append("-s3.secretKey=wJalrXUtnFEMI")
    return urn(rs, "objstore-seaweedfs-statefulset")


def k8s_plain_secret_env(rs):
    k8s_container(rs, "central-store-statefulset")["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI"})
    return urn(rs, "central-store-statefulset")


def k8s_secret_from_configmap(rs):
    k8s_container(rs, "central-store-statefulset")["env"].append(
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"configMapKeyRef": {"name": "central-query-config", "key": "k"}}}
    )
    return urn(rs, "central-store-statefulset")


def objstore_in_configmap(rs):
    secret = unwrap(find(rs, "central-store-secret").props["stringData"])
    find(rs, "central-query-config").props["data"]["objstore.yml"] = secret["objstore.yml"]
    return urn(rs, "central-query-config")


def constant_replica_label_docker(rs):
    for name in ("batmobile-agent-0", "batmobile-agent-1"):
        edit_text(upload(container(rs, name), "/etc/prometheus/prometheus.yml"), "content",
                  lambda t: t.replace("${INSTANCE}", "batmobile-a"))
    return urn(rs, "batmobile-agent-1")


def constant_replica_label_k8s(rs):
    data = find(rs, "batmobile-agent-config").props["data"]
    data["prometheus.yml"] = data["prometheus.yml"].replace("${INSTANCE}", "one")
    return urn(rs, "batmobile-agent-statefulset")


def replica_label_from_unset_env(rs):
    # ${HOSTNAME} is not set in the container: Prometheus expands it to "".
    for name in ("batcopter-agent-0", "batcopter-agent-1"):
        edit_text(upload(container(rs, name), "/etc/prometheus/prometheus.yml"), "content",
                  lambda t: t.replace("${INSTANCE}", "${HOSTNAME}"))
    return urn(rs, "batcopter-agent-1")


def same_labels_across_fleets(rs):
    # Two fleets that both claim to be the same cluster and the same replica.
    for name in ("batmobile-agent-0", "batcopter-agent-0"):
        edit_text(upload(container(rs, name), "/etc/prometheus/prometheus.yml"), "content",
                  lambda t: t.replace("cluster: batcopter", "cluster: batmobile").replace("${INSTANCE}", "r0"))
    return None


def http_to_public_host(rs):
    props = container(rs, "batmobile-agent-0")
    edit_text(upload(props, "/etc/prometheus/prometheus.yml"), "content",
              lambda t: t.replace("http://central-receive:19291", "http://203.0.113.7:19291"))
    return urn(rs, "batmobile-agent-0")


def http_with_credentials(rs):
    data = find(rs, "batmobile-agent-config").props["data"]
    data["prometheus.yml"] = data["prometheus.yml"].replace("https://", "http://user:pw@")
    return urn(rs, "batmobile-agent-config")


def run_as_root(rs):
    spec = pod_spec(rs, "central-store-statefulset")
    spec["securityContext"]["runAsUser"] = 0
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    return urn(rs, "central-store-statefulset")


def non_root_not_enforced(rs):
    spec = pod_spec(rs, "central-query-deployment")
    del spec["securityContext"]["runAsNonRoot"]
    del spec["containers"][0]["securityContext"]["runAsNonRoot"]
    return urn(rs, "central-query-deployment")


def writable_root(rs):
    k8s_container(rs, "batmobile-agent-statefulset")["securityContext"]["readOnlyRootFilesystem"] = False
    return urn(rs, "batmobile-agent-statefulset")


def escalation_allowed(rs):
    del k8s_container(rs, "central-compact-statefulset")["securityContext"]["allowPrivilegeEscalation"]
    return urn(rs, "central-compact-statefulset")


def k8s_privileged(rs):
    k8s_container(rs, "central-compact-statefulset")["securityContext"]["privileged"] = True
    return urn(rs, "central-compact-statefulset")


def capabilities_kept(rs):
    k8s_container(rs, "central-receive-statefulset")["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}
    return urn(rs, "central-receive-statefulset")


def capability_added(rs):
    k8s_container(rs, "central-receive-statefulset")["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    return urn(rs, "central-receive-statefulset")


def no_limits(rs):
    del k8s_container(rs, "objstore-seaweedfs-statefulset")["resources"]["limits"]
    return urn(rs, "objstore-seaweedfs-statefulset")


def no_memory_request(rs):
    del k8s_container(rs, "central-query-deployment")["resources"]["requests"]["memory"]
    return urn(rs, "central-query-deployment")


def host_path_volume(rs):
    spec = pod_spec(rs, "batcopter-agent-statefulset")
    spec["volumes"].append({"name": "varlog", "hostPath": {"path": "/var/log"}})
    return urn(rs, "batcopter-agent-statefulset")


def host_network(rs):
    pod_spec(rs, "batcopter-agent-statefulset")["hostNetwork"] = True
    return urn(rs, "batcopter-agent-statefulset")


def host_pid(rs):
    pod_spec(rs, "central-query-deployment")["hostPID"] = True
    return urn(rs, "central-query-deployment")


def no_seccomp(rs):
    spec = pod_spec(rs, "central-query-deployment")
    del spec["securityContext"]["seccompProfile"]
    del spec["containers"][0]["securityContext"]["seccompProfile"]
    return urn(rs, "central-query-deployment")


def no_readiness_probe(rs):
    del k8s_container(rs, "central-query-deployment")["readinessProbe"]
    return urn(rs, "central-query-deployment")


def docker_privileged(rs):
    container(rs, "central-store-0")["privileged"] = True
    return urn(rs, "central-store-0")


def docker_host_network(rs):
    props = container(rs, "batmobile-agent-0")
    props["networkMode"] = "host"
    return urn(rs, "batmobile-agent-0")


def docker_joins_host_network(rs):
    container(rs, "batmobile-agent-1")["networksAdvanced"] = [{"name": "host"}]
    return urn(rs, "batmobile-agent-1")


def docker_port_without_ip(rs):
    del container(rs, "central-query-0")["ports"][0]["ip"]
    return urn(rs, "central-query-0")


def docker_no_healthcheck(rs):
    del container(rs, "central-store-0")["healthcheck"]
    return urn(rs, "central-store-0")


def second_compactor_docker(rs):
    original = find(rs, "central-compact-0")
    twin = copy.deepcopy(original)
    twin.name = twin.props["name"] = twin.props["hostname"] = "central-compact-1"
    twin.urn = original.urn.replace("::central-compact-0", "::central-compact-1")
    rs.append(twin)
    return twin.urn


def compactor_scaled_k8s(rs):
    find(rs, "central-compact-statefulset").props["spec"]["replicas"] = 2
    return urn(rs, "central-compact-statefulset")


def hashring_lists_missing_receiver_docker(rs):
    # A live file: the writers carry it onto the volume the receivers mount.
    for name in ("central-receive-live-init", "central-receive-live-sync"):
        edit_text(upload(container(rs, name), "/etc/thanos/hashring/hashrings.json"), "content",
                  lambda t: t.replace('"central-receive-2:10901"', '"central-receive-2:10901",\n      "central-receive-3:10901"'))
    return urn(rs, "central-receive-0")


def receivers_scaled_down_k8s(rs):
    find(rs, "central-receive-statefulset").props["spec"]["replicas"] = 2
    return urn(rs, "central-router-statefulset")


def hashring_typo_k8s(rs):
    # The central stack has no router tier: the receivers carry the hashring.
    data = find(rs, "central-receive-live-config").props["data"]
    data["hashrings.json"] = data["hashrings.json"].replace(".central-receive.agentstream.svc", ".central-recieve.agentstream.svc", 1)
    return urn(rs, "central-receive-statefulset")


def empty_hashring(rs):
    data = find(rs, "central-router-live-config").props["data"]
    ring = json.loads(data["hashrings.json"])
    ring[0]["endpoints"] = []
    data["hashrings.json"] = json.dumps(ring)
    return urn(rs, "central-router-statefulset")


# (policy, stack, mutation, expected text, policy config, other policies that may fire)
VIOLATIONS = [
    ("images-pinned", "dev", untagged_remote_image, "has no tag (Docker pulls 'latest')", None, ()),
    ("images-pinned", "k8s", latest_k8s_image, "uses the 'latest' tag", None, ()),
    ("images-pinned", "k8s", floating_tag_image, "uses the floating tag 'main'", None, ()),
    ("receive-replication-factor", "k8s", router_without_rf, "replication factor 1", None, ()),
    ("receive-write-limits", "k8s", router_without_limits, "StatefulSet central-router takes remote write with no write limits", None, ()),
    ("receive-write-limits", "central", receivers_without_limits_central, "or list stack 'central' in allowUnlimitedWrites", None, ()),
    ("receive-write-limits", "dev", dev_as_is, "Container central-receive-0 takes remote write with no write limits",
     {"receive-write-limits": {"allowUnlimitedWrites": ["staging"]}}, ()),
    ("receive-pod-disruption-budget", "k8s", receive_without_pdb, "without a PodDisruptionBudget", None, ()),
    ("receive-pod-disruption-budget", "k8s", pdb_too_loose, "lets 2 of StatefulSet central-receive's receivers go down", None, ()),
    ("receive-pod-disruption-budget", "k8s", pdb_selects_other_pods, "without a PodDisruptionBudget", None, ()),
    ("objstore-credentials-as-secrets", "dev", docker_secret_env, "sets AWS_SECRET_ACCESS_KEY to a plain-text value", None, ()),
    ("objstore-credentials-as-secrets", "dev", inline_objstore_arg, "passes the whole --objstore.config on its command line", None, ()),
    ("objstore-credentials-as-secrets", "k8s", secret_key_flag, "has a credential on its command line", None, ()),
    ("objstore-credentials-as-secrets", "k8s", k8s_plain_secret_env, "use valueFrom.secretKeyRef", None, ()),
    ("objstore-credentials-as-secrets", "k8s", k8s_secret_from_configmap, "reads AWS_SECRET_ACCESS_KEY from a ConfigMap", None, ()),
    ("objstore-credentials-as-secrets", "k8s", objstore_in_configmap, "ConfigMap central-query-config key 'objstore.yml' holds object-store credentials", None, ()),
    ("agent-external-labels-unique", "dev", constant_replica_label_docker, "has the same external labels as Container batmobile-agent-0", None, ()),
    ("agent-external-labels-unique", "k8s", constant_replica_label_k8s, "StatefulSet batmobile-agent instance batmobile-agent-1 has the same external labels", None, ()),
    ("agent-external-labels-unique", "dev", replica_label_from_unset_env, "prometheus_replica=''", None, ()),
    ("agent-external-labels-unique", "dev", same_labels_across_fleets, "Container batmobile-agent-0 instance batmobile-agent-0 has the same external labels as Container batcopter-agent-0", None, ()),
    ("remote-write-secure-target", "dev", http_to_public_host, "plain http to '203.0.113.7'", None, ()),
    ("remote-write-secure-target", "edge-batmobile", http_with_credentials, "carries credentials over plain http", None, ()),
    ("k8s-run-as-non-root", "k8s", run_as_root, "runs as UID 0", None, ()),
    ("k8s-run-as-non-root", "k8s", non_root_not_enforced, "does not set runAsNonRoot: true", None, ()),
    ("k8s-read-only-root-filesystem", "k8s", writable_root, "root filesystem is writable", None, ()),
    ("k8s-no-privilege-escalation", "k8s", escalation_allowed, "allows privilege escalation", None, ()),
    ("k8s-no-privilege-escalation", "k8s", k8s_privileged, "runs privileged", None, ()),
    ("k8s-drop-all-capabilities", "k8s", capabilities_kept, "does not drop ALL capabilities", None, ()),
    ("k8s-drop-all-capabilities", "k8s", capability_added, "adds capabilities ['SYS_ADMIN']", None, ()),
    ("k8s-resource-requests-limits", "k8s", no_limits, "has no resources.limits.cpu, resources.limits.memory", None, ()),
    ("k8s-resource-requests-limits", "central", no_memory_request, "has no resources.requests.memory", None, ()),
    ("k8s-no-host-path", "edge-batcopter", host_path_volume, "mounts hostPath '/var/log'", None, ()),
    ("k8s-no-host-namespaces", "edge-batcopter", host_network, "sets hostNetwork: true", None, ()),
    ("k8s-no-host-namespaces", "k8s", host_pid, "sets hostPID: true", None, ()),
    ("k8s-seccomp-runtime-default", "k8s", no_seccomp, "has no seccompProfile of type RuntimeDefault", None, ()),
    ("k8s-health-probes", "k8s", no_readiness_probe, "has no readinessProbe", None, ()),
    ("docker-no-privileged", "dev", docker_privileged, "Container central-store-0 runs privileged", None, ()),
    ("docker-no-host-network", "dev", docker_host_network, "uses networkMode 'host'", None, ()),
    ("docker-no-host-network", "dev", docker_joins_host_network, "joins the 'host' network", None, ()),
    ("docker-ports-localhost", "dev", docker_port_without_ip, "publishes port 10902 on host address 0.0.0.0", None, ()),
    ("docker-healthcheck-and-restart", "dev", docker_no_healthcheck, "Container central-store-0 has no healthcheck", None, ()),
    ("one-compactor-per-bucket", "dev", second_compactor_docker, "2 compactor instances run against bucket 'thanos'", None, ()),
    ("one-compactor-per-bucket", "k8s", compactor_scaled_k8s, "2 compactor instances run against bucket 'thanos'", None, ()),
    ("hashring-receivers-exist", "dev", hashring_lists_missing_receiver_docker, "lists 'central-receive-3:10901', but no receiver in ReceiveCluster central serves", None, ()),
    ("hashring-receivers-exist", "k8s", receivers_scaled_down_k8s, "lists 'central-receive-2.central-receive.agentstream.svc.cluster.local:10901'", None, ()),
    ("hashring-receivers-exist", "central", hashring_typo_k8s, "central-recieve.agentstream.svc", None, ()),
    ("hashring-receivers-exist", "k8s", empty_hashring, "hashring 'default' in /etc/thanos/hashring/hashrings.json lists no receivers", None, ()),
]

ALL_POLICIES = {p.name for p in P.POLICIES}


def test_every_policy_has_a_violating_case():
    assert {v[0] for v in VIOLATIONS} == ALL_POLICIES


@pytest.mark.parametrize(
    "policy, stack, mutate, expected, config, also", VIOLATIONS, ids=[f"{v[0]}:{v[2].__name__}" for v in VIOLATIONS]
)
def test_violation(pack, stack_resources, policy, stack, mutate, expected, config, also):
    resources = stack_resources(stack)
    flagged = mutate(resources)
    check(pack, resources, policy, expected, flagged, config, also)


# What each policy inspects must be in the stack used as its compliant case,
# or "compliant" would only mean "nothing to look at".
def _has_receive_rf(rs):
    return any("--receive.replication-factor=3" in a for r in rs for a in _argv(r))


def _argv(r):
    w = P.workload_of(r.type, r.urn, r.name, unwrap(r.props))
    return [a for c in (w.containers if w else []) for a in c.argv]


def _has(type_):
    return lambda rs: any(r.type == type_ for r in rs)


PRESENT = {
    "images-pinned": ("dev", _has(P.DOCKER_REMOTE_IMAGE)),
    "receive-replication-factor": ("k8s", _has_receive_rf),
    "receive-pod-disruption-budget": ("k8s", _has(P.K8S_PDB)),
    "receive-write-limits": ("k8s", lambda rs: any(a.startswith("--receive.limits-config-file=") for r in rs for a in _argv(r))),
    "objstore-credentials-as-secrets": ("k8s", lambda rs: any(r.type == P.K8S_SECRET for r in rs)),
    "agent-external-labels-unique": ("dev", lambda rs: any("--agent" in _argv(r) for r in rs)),
    "remote-write-secure-target": ("edge-batmobile", lambda rs: "remote_write" in find(rs, "batmobile-agent-config").props["data"]["prometheus.yml"]),
    "k8s-run-as-non-root": ("k8s", _has("kubernetes:apps/v1:Deployment")),
    "k8s-read-only-root-filesystem": ("k8s", _has("kubernetes:apps/v1:StatefulSet")),
    "k8s-no-privilege-escalation": ("central", _has("kubernetes:apps/v1:StatefulSet")),
    "k8s-drop-all-capabilities": ("central", _has("kubernetes:apps/v1:StatefulSet")),
    "k8s-resource-requests-limits": ("k8s", _has("kubernetes:apps/v1:StatefulSet")),
    "k8s-no-host-path": ("edge-batcopter", _has("kubernetes:apps/v1:StatefulSet")),
    "k8s-no-host-namespaces": ("edge-batcopter", _has("kubernetes:apps/v1:StatefulSet")),
    "k8s-seccomp-runtime-default": ("k8s", _has("kubernetes:apps/v1:Deployment")),
    "k8s-health-probes": ("k8s", _has("kubernetes:apps/v1:Deployment")),
    "docker-no-privileged": ("dev", _has(P.DOCKER_CONTAINER)),
    "docker-no-host-network": ("dev", _has(P.DOCKER_CONTAINER)),
    "docker-ports-localhost": ("dev", lambda rs: any(r.props.get("ports") for r in rs if r.type == P.DOCKER_CONTAINER)),
    "docker-healthcheck-and-restart": ("dev", lambda rs: any(r.props.get("healthcheck") for r in rs)),
    "one-compactor-per-bucket": ("dev", lambda rs: any(r.name == "central-compact-0" for r in rs)),
    "hashring-receivers-exist": ("k8s", lambda rs: "hashrings.json" in find(rs, "central-router-live-config").props["data"]),
}


def test_every_policy_has_a_compliant_case():
    assert set(PRESENT) == ALL_POLICIES


@pytest.mark.parametrize("policy", sorted(PRESENT))
def test_compliant(pack, stack_resources, policy):
    stack, present = PRESENT[policy]
    resources = stack_resources(stack)
    assert present(resources), f"the {stack} stack has nothing {policy} inspects"
    analysis = pack.analyze(resources)
    assert analysis.of(policy) == [], analysis.report()


# -- compliant variations: what the policies must *not* flag ---------------------------------------------
def digest_pinned(rs):
    for r in rs:
        if r.type == P.DOCKER_REMOTE_IMAGE:
            r.props["name"] = r.props["name"].rsplit(":", 1)[0] + "@" + DIGEST
        if r.type == P.DOCKER_CONTAINER:
            r.props["image"] = DIGEST  # what RemoteImage.image_id is after a pull


def secret_env_via_secret_key_ref(rs):
    k8s_container(rs, "central-store-statefulset")["env"].append(
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "central-store-secret", "key": "k"}}}
    )


def credentials_file_env(rs):
    container(rs, "central-store-0")["envs"].append("AWS_SHARED_CREDENTIALS_FILE=/run/secrets/aws")


def https_and_private_targets(rs):
    for name, url in (("batmobile-agent-0", "https://metrics.example.com"), ("batmobile-agent-1", "http://10.1.2.3:19291")):
        edit_text(upload(container(rs, name), "/etc/prometheus/prometheus.yml"), "content",
                  lambda t, url=url: t.replace("http://central-receive:19291", url))


def allowed_http_host(rs):
    data = find(rs, "batmobile-agent-config").props["data"]
    data["prometheus.yml"] = data["prometheus.yml"].replace(
        "https://receive.wayne-enterprises.example", "http://receive.wayne.corp:19291")


def second_compactor_other_bucket(rs):
    original = find(rs, "central-compact-0")
    twin = copy.deepcopy(original)
    twin.name = twin.props["name"] = "archive-compact-0"
    twin.urn = original.urn.replace("::central-compact-0", "::archive-compact-0")
    edit_text(upload(twin.props, "/etc/thanos/objstore.yml"), "content", lambda t: t.replace("bucket: thanos", "bucket: archive"))
    rs.append(twin)


def pdb_with_min_available(rs):
    spec = find(rs, "central-receive-pdb").props["spec"]
    del spec["maxUnavailable"]
    spec["minAvailable"] = "67%"  # ceil(0.67 * 3) = 3 must stay: 0 may go down


def rf1_everywhere(rs):
    args = k8s_container(rs, "central-router-statefulset")["args"]
    args[:] = [a.replace("--receive.replication-factor=3", "--receive.replication-factor=1") for a in args]


def unchanged(rs):
    pass


def limits_given_inline(rs):
    args = k8s_container(rs, "central-router-statefulset")["args"]
    args[:] = [a.replace("--receive.limits-config-file=/etc/thanos/limits.yml", "--receive.limits-config=write: {}") for a in args]


def ingesters_without_limits(rs):
    # Behind routers, ingesters get writes over gRPC: no limits file needed.
    args = k8s_container(rs, "central-receive-statefulset")["args"]
    assert not any(a.startswith("--receive.limits-config") for a in args)


COMPLIANT_VARIATIONS = [
    ("receive-write-limits", "k8s", limits_given_inline, None),
    ("receive-write-limits", "k8s", ingesters_without_limits, None),
    ("receive-write-limits", "dev", unchanged, None),  # exempt by default
    ("receive-write-limits", "dev", unchanged, {"receive-write-limits": {"allowUnlimitedWrites": True}}),
    ("images-pinned", "dev", digest_pinned, None),
    ("objstore-credentials-as-secrets", "k8s", secret_env_via_secret_key_ref, None),
    ("objstore-credentials-as-secrets", "dev", credentials_file_env, None),
    ("remote-write-secure-target", "dev", https_and_private_targets, None),
    ("remote-write-secure-target", "edge-batmobile", allowed_http_host, {"remote-write-secure-target": {"allowedHttpHosts": [".wayne.corp"]}}),
    ("one-compactor-per-bucket", "dev", second_compactor_other_bucket, None),
    ("receive-pod-disruption-budget", "k8s", pdb_with_min_available, None),
    ("receive-replication-factor", "k8s", rf1_everywhere, {"receive-replication-factor": {"allowReplicationFactorOne": True}}),
]


@pytest.mark.parametrize("policy, stack, mutate, config", COMPLIANT_VARIATIONS, ids=[f"{v[0]}:{v[2].__name__}" for v in COMPLIANT_VARIATIONS])
def test_compliant_variation(pack, stack_resources, policy, stack, mutate, config):
    resources = stack_resources(stack)
    mutate(resources)
    analysis = pack.analyze(resources, config)
    assert analysis.of(policy) == [], analysis.report()


def test_allowed_http_host_is_needed(pack, stack_resources):
    """Without the config, the same non-cluster http host is rejected."""
    resources = stack_resources("edge-batmobile")
    allowed_http_host(resources)
    check(pack, resources, "remote-write-secure-target", "plain http to 'receive.wayne.corp'", urn(resources, "batmobile-agent-config"))


# -- preview: unknown values -----------------------------------------------------------------------------------
def test_second_compactor_is_caught_during_a_first_preview(pack, stack_resources):
    # The objstore config is unknown (generated credentials): the compactors
    # of one ReceiveCluster are known to share its bucket.
    resources = stack_resources("dev", preview=True)
    flagged = second_compactor_docker(resources)
    check(pack, resources, "one-compactor-per-bucket", "2 compactor instances run against the same bucket", flagged)


def test_unknown_agent_config_gives_the_standard_preview_advisory(pack, stack_resources):
    resources = stack_resources("dev", preview=True)
    upload(container(resources, "batmobile-agent-0"), "/etc/prometheus/prometheus.yml")["content"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    analysis = pack.analyze(resources)
    assert analysis.mandatory == []
    [d] = analysis.of("agent-external-labels-unique")
    assert d.level == "advisory"
    assert "can't run policy 'agent-external-labels-unique'" in d.message and "during preview" in d.message


def test_disabling_a_policy_through_the_config(pack, stack_resources):
    resources = stack_resources("dev")
    docker_privileged(resources)
    assert pack.analyze(resources, {"docker-no-privileged": "disabled"}).diagnostics == []
    [d] = pack.analyze(resources, {"docker-no-privileged": "advisory"}).diagnostics
    assert d.level == "advisory"
