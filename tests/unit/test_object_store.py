"""ObjectStore on both targets, constructed directly under mocks."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

import agentstream as a
from agentstream import versions
from agentstream.object_store import FILESYSTEM_DIR, validate_object_store_args
from tests.support import resources as R
from tests.support.programs import K8S_NAMESPACE, run_on

EXTERNAL = "type: S3\nconfig:\n  bucket: ext-bucket\n  endpoint: s3.example.com\n  access_key: AKEXAMPLE\n  secret_key: ext-s3cr3t-value\n"


def build(args):
    def program(target):
        store = a.ObjectStore("objstore", {**args, "target": target})
        pulumi.export("objstore_config", store.objstore_config)
        pulumi.export("endpoint", store.endpoint)
        pulumi.export("bucket", store.bucket)
        pulumi.export("volumes", [v.shared_name for v in store.volumes])

    return program


def children_are_named_and_parented(run, name):
    comp = R.component(run, name)
    kids = run.children(comp)
    for r in kids:
        assert r.name.startswith(f"{name}-"), r.name
    return kids


# -- self-hosted engines -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
@pytest.mark.parametrize("engine,port", [("seaweedfs", 8333), ("minio", 9000)])
def test_self_hosted_engine(kind, engine, port):
    run = run_on(kind, build({"engine": engine, "bucket": "metrics"}))
    kids = children_are_named_and_parented(run, "objstore")
    types = sorted(r.type for r in kids)
    # Both keys are RandomPasswords: a RandomString's id is its value, in
    # plain text in state.
    assert "random:index/randomString:RandomString" not in types
    assert types.count("random:index/randomPassword:RandomPassword") == 2

    host = f"objstore-{engine}" if kind == "docker" else f"objstore-{engine}.{K8S_NAMESPACE}.svc.cluster.local"
    assert run.outputs["endpoint"] == f"http://{host}:{port}"
    assert run.outputs["bucket"] == "metrics"
    assert "objstore_config" in run.secret_outputs
    cfg = yaml.safe_load(run.outputs["objstore_config"])
    assert cfg["type"] == "S3"
    assert cfg["config"]["bucket"] == "metrics"
    assert cfg["config"]["endpoint"] == f"{host}:{port}"
    assert cfg["config"]["bucket_lookup_type"] == "path"
    access, secret = cfg["config"]["access_key"], cfg["config"]["secret_key"]
    assert len(access) == 20 and len(secret) == 40
    # the credentials appear only in secret inputs, never in argv/env/plain files
    for value in (access, secret):
        assert R.plain_occurrences(run, value) == []
        assert value in "".join(R.secret_values(run))
    assert run.outputs["volumes"] == []


def test_seaweedfs_docker_identity_file_matches_objstore_keys():
    run = run_on("docker", build({"engine": "seaweedfs"}))
    (c,) = R.containers_of(run, "objstore-seaweedfs")
    assert c.parent == R.component(run, "objstore").urn
    assert c.inputs["image"] == versions.SEAWEEDFS_IMAGE
    assert c.inputs["entrypoints"] == ["/usr/bin/weed"]
    args = c.inputs["command"]
    assert "mini" in args
    assert "-s3.config=/etc/seaweedfs/s3.json" in args
    assert "-bucket=thanos" in args
    assert "-s3.port=8333" in args
    idx = R.upload_index(c, "/etc/seaweedfs/s3.json")
    assert c.is_secret(f"uploads.{idx}.content")
    ident = json.loads(R.upload(c, "/etc/seaweedfs/s3.json"))["identities"][0]["credentials"][0]
    cfg = yaml.safe_load(run.outputs["objstore_config"])["config"]
    assert (ident["accessKey"], ident["secretKey"]) == (cfg["access_key"], cfg["secret_key"])
    assert c.inputs["volumes"] == [{"volumeName": "objstore-seaweedfs-0-data", "containerPath": "/data", "readOnly": False}]


def test_seaweedfs_kubernetes_identity_in_secret():
    run = run_on("kubernetes", build({"engine": "seaweedfs", "storage_size": "7Gi"}))
    sts = R.k8s_workload(run, "objstore-seaweedfs")
    assert sts.inputs["kind"] == "StatefulSet"
    content, obj, path = R.k8s_file(run, sts, "/etc/seaweedfs/s3.json")
    assert obj.inputs["kind"] == "Secret" and obj.is_secret(path)
    ident = json.loads(content)["identities"][0]["credentials"][0]
    assert ident["accessKey"] == yaml.safe_load(run.outputs["objstore_config"])["config"]["access_key"]
    (claim,) = sts.inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "7Gi"


@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_minio_reads_keys_from_secret_files(kind):
    run = run_on(kind, build({"engine": "minio", "bucket": "gotham-metrics"}))
    if kind == "docker":
        (c,) = R.containers_of(run, "objstore-minio")
        env = dict(e.split("=", 1) for e in c.inputs["envs"])
        files = {u["file"]: (u["content"], c.is_secret(f"uploads.{i}.content")) for i, u in enumerate(c.inputs["uploads"])}
        args = c.inputs["command"]
        assert c.inputs["image"] == versions.MINIO_IMAGE
    else:
        sts = R.k8s_workload(run, "objstore-minio")
        ctr = R.main_container(sts)
        env = {k: e.get("value") for k, e in R.env_of(ctr).items()}
        files = {}
        for p in ("/run/secrets/minio/access_key", "/run/secrets/minio/secret_key"):
            content, obj, path = R.k8s_file(run, sts, p)
            files[p] = (content, obj.is_secret(path))
        args = ctr["args"]
        assert ctr["image"] == versions.MINIO_IMAGE
    assert env["MINIO_ROOT_USER_FILE"] == "/run/secrets/minio/access_key"
    assert env["MINIO_ROOT_PASSWORD_FILE"] == "/run/secrets/minio/secret_key"
    assert "MINIO_ROOT_USER" not in env and "MINIO_ROOT_PASSWORD" not in env
    cfg = yaml.safe_load(run.outputs["objstore_config"])["config"]
    assert files["/run/secrets/minio/access_key"] == (cfg["access_key"], True)
    assert files["/run/secrets/minio/secret_key"] == (cfg["secret_key"], True)
    # the bucket is created at start; the keys are read from the files, never inlined
    assert "gotham-metrics" in " ".join(args)
    assert cfg["secret_key"] not in " ".join(args) and cfg["access_key"] not in " ".join(args)


# -- filesystem -------------------------------------------------------------------
def test_filesystem_on_docker_is_a_shared_volume():
    run = run_on("docker", build({"engine": "filesystem"}))
    assert run.children(R.component(run, "objstore")) == []  # no server to run
    assert R.containers(run) == []
    assert yaml.safe_load(run.outputs["objstore_config"]) == {"type": "FILESYSTEM", "config": {"directory": FILESYSTEM_DIR}}
    assert "objstore_config" in run.secret_outputs
    assert run.outputs["volumes"] == ["objstore-bucket"]
    assert run.outputs["endpoint"] == f"file://{FILESYSTEM_DIR}"


def test_filesystem_refused_on_kubernetes_before_registration():
    with pytest.raises(ValueError) as e:
        run_on("kubernetes", build({"engine": "filesystem"}))
    msg = str(e.value)
    assert "objectStore.engine" in msg and "seaweedfs, minio, external" in msg
    assert not [r for r in e.value.recorded if r.type == "agentstream:index:ObjectStore"]


# -- external -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "kubernetes"])
def test_external_plaintext_config_becomes_secret(kind):
    run = run_on(kind, build({"engine": "external", "external_config": EXTERNAL}))
    assert run.children(R.component(run, "objstore")) == []
    assert run.outputs["objstore_config"] == EXTERNAL
    assert "objstore_config" in run.secret_outputs
    assert run.outputs["endpoint"] == "external"
    assert run.outputs["bucket"] == "ext-bucket"


@pytest.mark.parametrize(
    "cfg,needle",
    [
        (None, "objstoreConfig"),
        ("   ", "objstoreConfig"),
        ("type: S3\n", "allowed types"),
        ("type: CEPH\nconfig: {}\n", "allowed types"),
        ("config: [unclosed\n", "not valid YAML"),
    ],
)
def test_external_config_validated(cfg, needle):
    args = {"engine": "external"}
    if cfg is not None:
        args["external_config"] = cfg
    with pytest.raises(ValueError, match="objectStore.externalConfig") as e:
        validate_object_store_args(args, "docker")
    assert needle in str(e.value)


# -- args ------------------------------------------------------------------------------
def test_defaults():
    a_ = validate_object_store_args({}, "kubernetes")
    assert (a_.engine, a_.bucket, a_.storage_size) == ("seaweedfs", "thanos", "20Gi")


@pytest.mark.parametrize("bucket", ["ab", "UPPER", "under_score", "-lead", "x" * 64, 7])
def test_bad_bucket(bucket):
    with pytest.raises(ValueError, match="objectStore.bucket"):
        validate_object_store_args({"bucket": bucket}, "docker")


def test_unknown_engine_names_allowed_values():
    with pytest.raises(ValueError) as e:
        validate_object_store_args({"engine": "ceph"}, "docker")
    assert "objectStore.engine" in str(e.value)
    for engine in ("seaweedfs", "minio", "filesystem", "external"):
        assert engine in str(e.value)


def test_image_override():
    run = run_on("docker", build({"engine": "seaweedfs", "image": "chrislusf/seaweedfs:4.00"}))
    (c,) = R.containers_of(run, "objstore-seaweedfs")
    assert c.inputs["image"] == "chrislusf/seaweedfs:4.00"


@pytest.mark.parametrize(
    "args,field,allowed",
    [
        ({"storage_size": "twenty gigs"}, "objectStore.storageSize", "positive Kubernetes quantity"),
        ({"storage_size": "10 Gi"}, "objectStore.storageSize", "no space"),
        ({"storage_size": "0Ti"}, "objectStore.storageSize", "10Gi, 500Mi or 500M"),
        ({"storage_size": "-1Gi"}, "objectStore.storageSize", "positive"),
        ({"storageSize": "1Gi"}, "ObjectStoreArgs.storageSize", "did you mean 'storage_size'?"),
        ({"externalConfig": EXTERNAL, "engine": "external"}, "ObjectStoreArgs.externalConfig", "did you mean 'external_config'?"),
        ({"region": "eu"}, "ObjectStoreArgs.region: unknown key;", "allowed keys: engine, bucket"),
    ],
)
def test_validation(args, field, allowed):
    with pytest.raises(ValueError) as e:
        validate_object_store_args(args, "kubernetes")
    assert field in str(e.value) and allowed in str(e.value), str(e.value)


@pytest.mark.parametrize("size", ["1Gi", "500M", "1.5Ti", "1e12"])
def test_valid_sizes_reach_the_volume(size):
    run = run_on("kubernetes", build({"engine": "seaweedfs", "storage_size": size}))
    (claim,) = R.k8s_workload(run, "objstore-seaweedfs").inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == size


@pytest.mark.parametrize(
    "make,error,needle",
    [
        (lambda t: a.ObjectStore("objstore", {"target": "docker"}), TypeError,
         "ObjectStoreArgs.target: 'docker' is a str, not a Target; allowed: a DockerTarget or KubernetesTarget"),
        (lambda t: a.ObjectStore("objstore", {"engine": "minio"}), TypeError,
         "ObjectStoreArgs.target: None is a NoneType, not a Target; allowed: a DockerTarget or KubernetesTarget"),
        (lambda t: a.ObjectStore("objstore", None), TypeError, "ObjectStoreArgs.target: None is a NoneType, not a Target"),
        (lambda t: a.ObjectStore("objstore", "seaweedfs"), TypeError, "ObjectStoreArgs: 'seaweedfs' is not a mapping"),
        (lambda t: a.ObjectStore("objstore", {"Engine": "minio", "target": t}), ValueError,
         "ObjectStoreArgs.Engine: unknown key (did you mean 'engine'?)"),
        # The old positional form: the target where opts belong.
        (lambda t: a.ObjectStore("objstore", {"engine": "minio"}, t), TypeError, "ObjectStoreArgs.target: None"),
    ],
)
def test_bad_python_args_register_nothing(make, error, needle):
    with pytest.raises(error) as e:
        run_on("docker", make)
    assert needle in str(e.value), str(e.value)
    assert not [r for r in e.value.recorded if r.name.startswith("objstore")]
