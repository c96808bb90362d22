"""Kubernetes target: every object the k8s stacks produce is valid (strict
schema, two minors), and follows the conventions: restricted pods, probes,
requests/limits, PDBs, labels, StatefulSet+headless Service for receive and
store, a Deployment for query, one compactor."""

from __future__ import annotations

import copy

import pulumi
import pytest

import agentstream as a
from agentstream.spec import ConfigFile, HealthCheck, Port, Volume, Workload
from tests.support import resources as R
from tests.support.k8s_schema import K8S_VERSIONS, validate_k8s_object, validate_k8s_resources
from tests.support.programs import run_on
from tests.support.stack_runner import run_program

EXTERNAL = "type: GCS\nconfig:\n  bucket: ext\n  service_account: |\n    {\"type\": \"service_account\", \"private_key\": \"pk-123456\"}\n"
K8S_RUNS = {
    "k8s": ("k8s", None),
    "central": ("central", None),
    "edge-batmobile": ("edge-batmobile", None),
    "edge-batcopter": ("edge-batcopter", None),
    "k8s-minio": ("k8s", {"agentstream:objectStore": {"engine": "minio"}}),
    "k8s-external": ("k8s", {"agentstream:objectStore": {"engine": "external"}, "agentstream:objstoreConfig": EXTERNAL}),
    "k8s-existing-ns": ("k8s", {"agentstream:kubernetes": {"namespace": "metrics", "createNamespace": False, "storageClass": "fast", "clusterDomain": "corp.local"}}),
}
LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
)
CLUSTER_SCOPED = ("Namespace", "ClusterRole", "ClusterRoleBinding")


@pytest.fixture(params=sorted(K8S_RUNS))
def k8s_run(request, stacks):
    stack, overrides = K8S_RUNS[request.param]
    return stacks(stack, overrides)


def workloads(run):
    return R.k8s_kind(run, "StatefulSet") + R.k8s_kind(run, "Deployment")


def namespace_of(run):
    return run.config["agentstream:kubernetes"]["namespace"]


# -- schema ----------------------------------------------------------------------------
def test_k8s_versions_are_bundled():
    assert K8S_VERSIONS == ("1.36.0", "1.37.0")


def test_every_object_is_valid_strict_on_two_minors(k8s_run):
    objs = R.k8s_objects(k8s_run)
    assert len(objs) >= 7
    for r in objs:
        assert r.inputs["apiVersion"] and r.inputs["kind"], r.name
    assert validate_k8s_resources(k8s_run.resources) == []


def test_strict_validation_catches_a_misspelt_field(stacks):
    sts = copy.deepcopy(R.k8s_workload(stacks("k8s"), "central-receive").inputs)
    assert validate_k8s_object(sts) == []
    sts["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    errors = validate_k8s_object(sts)
    assert len(errors) == len(K8S_VERSIONS)
    bad = copy.deepcopy(R.k8s_workload(stacks("k8s"), "central-receive").inputs)
    bad["spec"]["replicas"] = "3"
    assert validate_k8s_object(bad)


# -- pods --------------------------------------------------------------------------------
def test_restricted_security_context(k8s_run):
    for w in workloads(k8s_run):
        pod = R.pod_spec(w)
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True, w.name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert psc["runAsUser"] > 0
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert sc.get("privileged") is not True
        assert not pod.get("hostNetwork") and not pod.get("hostPID")
        assert not any("hostPath" in v for v in pod.get("volumes", []))
        # read-only root: a writable /tmp
        assert any(m["mountPath"] == "/tmp" for m in pod["containers"][0]["volumeMounts"])


def test_namespace_enforces_restricted(stacks):
    (ns,) = R.k8s_kind(stacks("k8s"), "Namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns.inputs["metadata"]["name"] == "agentstream"


def test_probes(k8s_run):
    for w in workloads(k8s_run):
        c = R.main_container(w)
        ports = {p["containerPort"] for p in c["ports"]}
        ready, live = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
        assert ready["port"] in ports and live["port"] in ports, w.name
        if c["image"].startswith(("quay.io/thanos/", "quay.io/prometheus/")):
            assert (ready["path"], live["path"]) == ("/-/ready", "/-/healthy"), w.name
        assert c["livenessProbe"]["initialDelaySeconds"] > 0


def test_requests_and_limits(k8s_run):
    for w in workloads(k8s_run):
        res = R.main_container(w)["resources"]
        for kind in ("requests", "limits"):
            assert set(res[kind]) == {"cpu", "memory"}, w.name


def test_service_accounts(k8s_run):
    sas = {r.inputs["metadata"]["name"]: r for r in R.k8s_kind(k8s_run, "ServiceAccount")}
    for w in workloads(k8s_run):
        pod = R.pod_spec(w)
        sa = sas[pod["serviceAccountName"]]
        # Only agents that discover pods talk to the API server (the
        # self-monitoring agents scrape the pipeline by name).
        sd = R.main_container(w)["name"] == "prometheus-agent" and not w.inputs["metadata"]["name"].startswith("meta-")
        assert pod["automountServiceAccountToken"] is sd
        assert sa.inputs["automountServiceAccountToken"] is sd


def test_mounted_config_objects_exist(k8s_run):
    for w in workloads(k8s_run):
        for m in R.main_container(w)["volumeMounts"]:
            if m.get("subPath"):
                content, obj, path = R.k8s_file(k8s_run, w, m["mountPath"])
                assert content
                assert obj.parent == w.parent  # same component
                if obj.inputs["kind"] == "Secret":
                    assert obj.is_secret(path)


# -- labels, names, namespaces ---------------------------------------------------------
def test_labels_on_every_object(k8s_run):
    for r in R.k8s_objects(k8s_run):
        labels = r.inputs["metadata"].get("labels", {})
        if r.inputs["kind"] == "Namespace":
            assert labels["app.kubernetes.io/part-of"] == "agentstream"
            continue
        for key in LABELS:
            assert labels.get(key), (r.name, key)
        assert labels["app.kubernetes.io/part-of"] == "agentstream"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
    for w in workloads(k8s_run):
        tmpl = w.inputs["spec"]["template"]["metadata"]["labels"]
        for key in LABELS:
            assert tmpl.get(key), (w.name, key)
        sel = w.inputs["spec"]["selector"]["matchLabels"]
        assert sel.items() <= tmpl.items()


def test_every_namespaced_object_in_the_stack_namespace(k8s_run):
    ns = namespace_of(k8s_run)
    for r in R.k8s_objects(k8s_run):
        if r.inputs["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in r.inputs["metadata"]
        else:
            assert r.inputs["metadata"]["namespace"] == ns, r.name


def test_services_select_their_pods(k8s_run):
    for w in workloads(k8s_run):
        name = w.inputs["metadata"]["name"]
        svc = R.k8s_get(k8s_run, "Service", name)
        assert svc.inputs["spec"]["selector"] == w.inputs["spec"]["selector"]["matchLabels"]
        svc_ports = {(p["name"], p["port"], p["targetPort"]) for p in svc.inputs["spec"]["ports"]}
        ctr_ports = {(p["name"], p["containerPort"], p["containerPort"]) for p in R.main_container(w)["ports"]}
        assert svc_ports == ctr_ports
        if w.inputs["kind"] == "StatefulSet":
            assert w.inputs["spec"]["serviceName"] == name
            assert svc.inputs["spec"]["clusterIP"] == "None"
            assert svc.inputs["spec"]["publishNotReadyAddresses"] is True


# -- topology --------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["k8s", "central"])
def test_receive_store_query_compact_topology(stacks, stack):
    run = stacks(stack)
    for name in ("central-receive", "central-store"):
        w = R.k8s_workload(run, name)
        assert w.inputs["kind"] == "StatefulSet"
        assert R.k8s_get(run, "Service", name).inputs["spec"]["clusterIP"] == "None"
        assert w.inputs["spec"]["podManagementPolicy"] == "Parallel"
        assert w.inputs["spec"]["volumeClaimTemplates"]
    assert R.k8s_workload(run, "central-query").inputs["kind"] == "Deployment"
    compactors = [w for w in workloads(run) if R.main_container(w)["args"][0] == "compact"]
    assert len(compactors) == 1
    assert compactors[0].inputs["spec"]["replicas"] == 1
    rf = run.config["agentstream:receive"]["replicationFactor"]
    pdb = R.k8s_get(run, "PodDisruptionBudget", "central-receive")
    assert pdb.inputs["spec"]["maxUnavailable"] == rf // 2


def test_storage_class_and_cluster_domain(stacks):
    run = stacks(*K8S_RUNS["k8s-existing-ns"])
    assert R.k8s_kind(run, "Namespace") == []
    for w in R.k8s_kind(run, "StatefulSet"):
        for claim in w.inputs["spec"].get("volumeClaimTemplates") or []:
            assert claim["spec"]["storageClassName"] == "fast"
    assert run.outputs["remote_write_url"] == "http://central-router.metrics.svc.corp.local:19291/api/v1/receive"
    assert all(e.endswith(".metrics.svc.corp.local:10901") for e in run.outputs["store_endpoints"])


# -- KubernetesTarget directly ------------------------------------------------------------
def test_target_where():
    def program():
        t = a.KubernetesTarget("kubernetes", {"namespace": "obs", "cluster_domain": "example.org"})
        pulumi.export("svc", t.service_host("w"))
        pulumi.export("inst", t.instance_host("w", "w-1"))
        pulumi.export("tmpl", t.instance_host_template("w"))

    run = run_program(program)
    assert run.outputs == {"svc": "w.obs.svc.example.org", "inst": "w-1.w.obs.svc.example.org", "tmpl": "$(INSTANCE).w.obs.svc.example.org"}
    ns = run.named("kubernetes-namespace")
    assert ns.parent == R.component(run, "kubernetes").urn


def demo(volumes=True, instance_arg=False, max_unavailable=None):
    return Workload(
        name="demo",
        component="demo",
        image="example.com/demo:1.0",
        args=["--id=$(INSTANCE)"] if instance_arg else ["--port=8080"],
        ports=[Port("http", 8080, publish=True)],
        health=HealthCheck(port=8080),
        replicas=2,
        config_files=[ConfigFile("/etc/demo/demo.yml", "a: 1\n"), ConfigFile("/etc/demo/key", pulumi.Output.secret("k3y"), secret=True)],
        volumes=[Volume("data", "/data", size="1Gi")] if volumes else [],
        user="1234",
        max_unavailable=max_unavailable,
    )


@pytest.mark.parametrize(
    "kw,kind",
    [({"volumes": True}, "StatefulSet"), ({"volumes": False, "instance_arg": True}, "StatefulSet"), ({"volumes": False}, "Deployment")],
)
def test_target_picks_statefulset_or_deployment(kw, kind):
    def program(target):
        parent = pulumi.ComponentResource("test:index:Owner", "owner")
        d = target.deploy(demo(**kw), parent=parent)
        pulumi.export("urls", d.urls)

    run = run_on("kubernetes", program)
    w = R.k8s_workload(run, "demo")
    assert w.inputs["kind"] == kind
    svc = R.k8s_get(run, "Service", "demo")
    assert (svc.inputs["spec"].get("clusterIP") == "None") == (kind == "StatefulSet")
    assert run.outputs["urls"] == {"http": "http://demo.obs.svc.cluster.local:8080"}
    assert R.k8s_kind(run, "PodDisruptionBudget") == []
    owner = [r for r in run.resources if r.type == "test:index:Owner"][0]
    assert all(r.parent == owner.urn for r in R.k8s_objects(run) if r.inputs["kind"] != "Namespace")
    assert validate_k8s_resources(run.resources) == []


def test_target_secret_file_and_pdb():
    """A secret config file goes into a Secret (no secret ever goes into env)."""
    def program(target):
        parent = pulumi.ComponentResource("test:index:Owner", "owner")
        target.deploy(demo(max_unavailable=1), parent=parent)

    run = run_on("kubernetes", program)
    sec = R.k8s_get(run, "Secret", "demo-secret")
    assert sec.inputs["stringData"] == {"key": "k3y"}
    assert sec.is_secret("stringData.key")
    # Auto-named (see test_config_objects_are_auto_named).
    assert "name" not in sec.inputs["metadata"]
    container = R.main_container(R.k8s_workload(run, "demo"))
    assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    assert "k3y" not in str(R.k8s_workload(run, "demo").inputs)
    assert R.k8s_get(run, "PodDisruptionBudget", "demo").inputs["spec"]["maxUnavailable"] == 1
    assert validate_k8s_resources(run.resources) == []


def test_config_hash_annotation_follows_content():
    def hash_for(content):
        def program(target):
            w = demo()
            w.config_files[0] = ConfigFile("/etc/demo/demo.yml", content)
            target.deploy(w, parent=pulumi.ComponentResource("test:index:Owner", "owner"))

        run = run_on("kubernetes", program)
        return R.k8s_workload(run, "demo").inputs["spec"]["template"]["metadata"]["annotations"]["agentstream.io/config-hash"]

    assert hash_for("a: 1\n") == hash_for("a: 1\n")
    assert hash_for("a: 1\n") != hash_for("a: 2\n")
    # Content known only later (an Output, as every agent config is) is
    # hashed too: agents must roll on their own config.
    assert hash_for(pulumi.Output.from_input("a: 1\n")) == hash_for("a: 1\n")
    assert hash_for(pulumi.Output.from_input("a: 2\n")) != hash_for("a: 1\n")


def test_config_objects_are_auto_named():
    """Fixed names make the provider delete a changed ConfigMap/Secret (and the
    StatefulSet that mounts it) before creating the new one; auto-named, the new
    object comes first and the pods roll one at a time."""

    def program(target):
        target.deploy(demo(), parent=pulumi.ComponentResource("test:index:Owner", "owner"))

    run = run_on("kubernetes", program)
    w = R.k8s_workload(run, "demo")
    objects = R.k8s_kind(run, "ConfigMap") + R.k8s_kind(run, "Secret")
    assert {o.inputs["kind"] for o in objects} == {"ConfigMap", "Secret"}
    for o in objects:
        assert "name" not in o.inputs["metadata"], o.name
    volumes = {v["name"]: v for v in R.pod_spec(w)["volumes"]}
    assert volumes["config"]["configMap"]["name"] == R.auto_name("demo-config")
    # The hash covers the Secret through its (auto-generated) name, never its content.
    annotation = w.inputs["spec"]["template"]["metadata"]["annotations"]["agentstream.io/config-hash"]
    assert not w.is_secret("spec.template.metadata.annotations")
    assert len(annotation) == 16


@pytest.mark.parametrize(
    "args,needle",
    [
        ({"namespace": "Bad_NS"}, "kubernetes.namespace"),
        ({"namespace": "x" * 41}, "kubernetes.namespace"),
        ({"storage_class": "Fast_SSD"}, "kubernetes.storageClass: 'Fast_SSD' is not a Kubernetes object name; allowed: a DNS-1123 subdomain"),
        ({"storage_class": "ssd."}, "kubernetes.storageClass: 'ssd.'"),
        ({"storage_class": 3}, "kubernetes.storageClass: 3"),
        ({"cluster_domain": "cluster.local."}, "kubernetes.clusterDomain: 'cluster.local.' is not a DNS domain"),
        ({"cluster_domain": "cluster_local"}, "kubernetes.clusterDomain: 'cluster_local'"),
        ({"cluster_domain": ""}, "kubernetes.clusterDomain: ''"),
        ({"clusterDomain": "corp.local"}, "KubernetesTargetArgs.clusterDomain: unknown key (did you mean 'cluster_domain'?)"),
        ({"storageClass": "fast"}, "KubernetesTargetArgs.storageClass: unknown key (did you mean 'storage_class'?)"),
        ({"ingress": {"host": "r.example.com", "className": "nginx"}}, "kubernetes.ingress.className: unknown key (did you mean 'class_name'?)"),
    ],
)
def test_target_args_validated_before_registration(args, needle):
    with pytest.raises(ValueError) as e:
        run_program(lambda: a.KubernetesTarget("kubernetes", args))
    assert needle in str(e.value), str(e.value)
    assert e.value.recorded == []


def test_target_args_must_be_a_mapping():
    with pytest.raises(TypeError, match=r"^KubernetesTargetArgs: \['obs'\] is not a mapping") as e:
        run_program(lambda: a.KubernetesTarget("kubernetes", ["obs"]))
    assert e.value.recorded == []


@pytest.mark.parametrize("storage_class,expected", [(None, None), ("", ""), ("gp3.csi.aws.com", "gp3.csi.aws.com")])
def test_storage_class_default_blank_or_named(storage_class, expected):
    """None: the cluster default; "": no class (pre-provisioned volumes only)."""
    args = {} if storage_class is None else {"storage_class": storage_class}

    def program(target):
        target.deploy(demo(), parent=pulumi.ComponentResource("test:index:Owner", "owner"))

    run = run_on("kubernetes", program, args)
    (claim,) = R.k8s_workload(run, "demo").inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"].get("storageClassName") == expected


# -- ingress: remote write from other clusters ---------------------------------------------
def exposed_demo():
    w = demo(volumes=False)
    w.ports = [
        Port("http", 8080, publish=True),  # published, but no ingress path: stays in the cluster
        Port("write", 9000, publish=True, ingress_path="/api/v1/write"),
        Port("hidden", 9001, ingress_path="/never"),  # not published
    ]
    return w


def deploy_exposed(ingress):
    def program(target):
        d = target.deploy(exposed_demo(), parent=pulumi.ComponentResource("test:index:Owner", "owner"))
        pulumi.export("urls", d.urls)

    return run_on("kubernetes", program, {"ingress": ingress} if ingress is not None else None)


def test_ingress_exposes_only_published_ports_with_a_path():
    run = deploy_exposed({"host": "metrics.example.com", "class_name": "nginx", "tls_secret_name": "metrics-tls",
                          "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}})
    (ing,) = R.k8s_kind(run, "Ingress")
    assert ing.inputs["metadata"]["name"] == "demo"
    # The user's annotations, and the provider waits 3 minutes (not its 10) for an address.
    assert ing.inputs["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt", "pulumi.com/timeoutSeconds": "180"}
    # A named class is read first, so a cluster without it fails the preview.
    (read,) = [r for r in run.reads if r.type == "kubernetes:networking.k8s.io/v1:IngressClass"]
    assert read.id == "nginx" and read.urn in ing.depends_on
    spec = ing.inputs["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["metrics.example.com"], "secretName": "metrics-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "metrics.example.com"
    assert rule["http"]["paths"] == [
        {"path": "/api/v1/write", "pathType": "Prefix", "backend": {"service": {"name": "demo", "port": {"name": "write"}}}}
    ]
    # The exposed port's URL is the public one; the others stay in-cluster.
    assert run.outputs["urls"] == {"http": "http://demo.obs.svc.cluster.local:8080", "write": "https://metrics.example.com"}
    assert set(LABELS) <= set(ing.inputs["metadata"]["labels"])
    assert validate_k8s_resources(run.resources) == []


def test_ingress_without_tls_or_class():
    run = deploy_exposed({"host": "metrics.internal.example"})
    (ing,) = R.k8s_kind(run, "Ingress")
    assert "tls" not in ing.inputs["spec"] and "ingressClassName" not in ing.inputs["spec"]
    assert ing.inputs["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "180"}
    assert [r for r in run.reads if "IngressClass" in r.type] == []  # the cluster default: nothing to look up
    assert run.outputs["urls"]["write"] == "http://metrics.internal.example"
    assert validate_k8s_resources(run.resources) == []


@pytest.mark.parametrize("ingress,expected", [
    ({"await_address": False}, {"pulumi.com/skipAwait": "true"}),
    ({"address_timeout": "90s"}, {"pulumi.com/timeoutSeconds": "90"}),
    ({"await_address": True, "address_timeout": "1h"}, {"pulumi.com/timeoutSeconds": "3600"}),
])
def test_ingress_address_wait(ingress, expected):
    """No ingress controller: either fail after addressTimeout or, when the user says so, do not wait."""
    run = deploy_exposed({"host": "metrics.internal.example", **ingress})
    (ing,) = R.k8s_kind(run, "Ingress")
    assert ing.inputs["metadata"]["annotations"] == expected


def test_no_ingress_unless_configured():
    run = deploy_exposed(None)
    assert R.k8s_kind(run, "Ingress") == []
    assert run.outputs["urls"]["write"] == "http://demo.obs.svc.cluster.local:9000"


@pytest.mark.parametrize(
    "ingress,field,allowed",
    [
        ({}, "kubernetes.ingress.host", "fully qualified"),
        ({"host": "localhost"}, "kubernetes.ingress.host", "fully qualified"),
        ({"host": "Receive.Example.com"}, "kubernetes.ingress.host", "lower-case"),
        ({"host": "https://receive.example.com"}, "kubernetes.ingress.host", "DNS name"),
        ({"host": "receive.example.com", "path": "/"}, "kubernetes.ingress.path", "host, class_name, tls_secret_name, annotations, await_address, address_timeout"),
        ({"host": "receive.example.com", "class_name": "Nginx"}, "kubernetes.ingress.className", "lower-case letters"),
        ({"host": "receive.example.com", "tls_secret_name": "tls_cert"}, "kubernetes.ingress.tlsSecretName", "lower-case letters"),
        ({"host": "receive.example.com", "annotations": ["a"]}, "kubernetes.ingress.annotations", "string to string"),
        # YAML turned these into a number and a boolean: say to quote them.
        ({"host": "receive.example.com", "annotations": {"a": 1}}, "kubernetes.ingress.annotations.a: 1 is a number", 'quote it in the stack config: a: "1"'),
        ({"host": "receive.example.com", "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": False}},
         "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/ssl-redirect: False is a boolean", '"false"'),
        ({"host": "receive.example.com", "annotations": {"b": 1.5}}, "kubernetes.ingress.annotations.b", '"1.5"'),
        ({"host": "receive.example.com", "await_address": "no"}, "kubernetes.ingress.awaitAddress: 'no'", "true, false"),
        ({"host": "receive.example.com", "address_timeout": "0s"}, "kubernetes.ingress.addressTimeout: '0s' is a zero duration", "above zero"),
        ({"host": "receive.example.com", "address_timeout": "5 minutes"}, "kubernetes.ingress.addressTimeout", "Prometheus duration"),
        ({"host": "receive.example.com", "await_address": False, "address_timeout": "5m"}, "kubernetes.ingress.addressTimeout: has no effect", "remove one"),
        ("receive.example.com", "kubernetes.ingress", "mapping"),
    ],
)
def test_ingress_validated_before_registration(ingress, field, allowed):
    with pytest.raises(ValueError) as e:
        run_program(lambda: a.KubernetesTarget("kubernetes", {"ingress": ingress}))
    assert field in str(e.value) and allowed in str(e.value), str(e.value)
    assert e.value.recorded == []


# -- live files ------------------------------------------------------------------------
def deploy_live(ring='["a"]\n', volumes=True):
    def program(target):
        w = demo(volumes=volumes)
        w.config_files.append(ConfigFile("/etc/demo/live/ring.json", ring, live=True, reload_seconds=20))
        target.deploy(w, parent=pulumi.ComponentResource("test:index:Owner", "owner"))

    return run_on("kubernetes", program)


@pytest.mark.parametrize("volumes", [True, False])
def test_live_file_gets_its_own_fixed_name_configmap_mounted_as_a_directory(volumes):
    run = deploy_live(volumes=volumes)
    w = R.k8s_workload(run, "demo")
    live = R.k8s_get(run, "ConfigMap", "demo-live")
    assert live.name == "demo-live-config" and live.inputs["metadata"]["name"] == "demo-live"
    assert live.inputs["data"] == {"ring.json": '["a"]\n'}
    # Not in the auto-named ConfigMap of the other files.
    other = R.k8s_get(run, "ConfigMap", "demo-config")
    assert "ring.json" not in other.inputs["data"]
    volumes_ = {v["name"]: v for v in R.pod_spec(w)["volumes"]}
    assert volumes_["live"] == {"name": "live", "configMap": {"name": "demo-live"}}
    mounts = [m for m in R.main_container(w)["volumeMounts"] if m["name"] == "live"]
    # A directory (no subPath): the kubelet updates it in place in running pods.
    assert mounts == [{"name": "live", "mountPath": "/etc/demo/live", "readOnly": True}]
    # Created before the pods that mount it (ordering only).
    assert live.urn in w.depends_on
    assert validate_k8s_resources(run.resources) == []


@pytest.mark.parametrize("volumes", [True, False])
def test_changed_live_file_leaves_the_pod_template_alone(volumes):
    """A new hashring rolls no pod: the StatefulSet/Deployment is byte-identical
    (no config hash over the live file, the ConfigMap named by a literal)."""
    old, new = deploy_live('["a"]\n', volumes), deploy_live('["a", "b"]\n', volumes)
    assert R.k8s_workload(old, "demo").inputs == R.k8s_workload(new, "demo").inputs
    assert R.k8s_get(old, "ConfigMap", "demo-live").inputs["data"] != R.k8s_get(new, "ConfigMap", "demo-live").inputs["data"]
    # The other files still roll the pods through the config hash.
    def annotation(run):
        return R.k8s_workload(run, "demo").inputs["spec"]["template"]["metadata"]["annotations"]["agentstream.io/config-hash"]
    assert annotation(old) == annotation(new)


def test_router_ring_waits_for_the_receivers_rollout(stacks):
    """The k8s stack's routers read the ring; their live ConfigMap is
    updated only after the receive StatefulSet (which Pulumi awaits until
    every pod is ready): a new receiver joins the ring once it is ready."""
    run = stacks("k8s")
    live = R.k8s_get(run, "ConfigMap", "central-router-live")
    receive = R.k8s_workload(run, "central-receive")
    assert receive.urn in live.depends_on
    assert "pulumi.com/waitFor" in receive.inputs["metadata"]["annotations"]
