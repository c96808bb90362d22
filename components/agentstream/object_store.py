"""ObjectStore: the bucket that receive uploads to and store/compact read.

Engines:

* ``seaweedfs`` (default): SeaweedFS ``weed mini`` with S3 on 8333, Apache-2.0.
* ``minio``: MinIO pinned to its last community release, for existing users.
* ``filesystem``: Thanos FILESYSTEM on a shared volume (a single Docker host only).
* ``external``: an existing S3/GCS/Azure/... bucket, given as a Thanos objstore
  config (a secret).

Self-hosted engines create their bucket and get credentials from
``pulumi_random``. The Thanos objstore config is always a secret output.
"""

# No ``from __future__ import annotations`` in the component modules: the
# provider (agentstream.provider) infers the schema from these annotations at
# run time, and postponed ones would be strings to it.
import re
from collections.abc import Mapping
from typing import Any, Optional, TypedDict

import pulumi
import pulumi_random as random
import yaml
from typing_extensions import Required

from . import versions
from .config import render_filesystem_objstore, render_s3_objstore, render_seaweedfs_identities
from .settings import ObjectStoreSettings
from .sizing import ResourcesArgs, SchedulingArgs, camel, scheduling, validate_resources, validate_scheduling, validate_storage_class
from .spec import ConfigFile, HealthCheck, Port, Resources, Volume, Workload
from .targets import Target, split_args
from .validation import check_args, check_choice, check_image, check_size, checked

# -- args and defaults --------------------------------------------------------
ENGINES = ("seaweedfs", "minio", "filesystem", "external")
DEFAULT_ENGINE = "seaweedfs"
DEFAULT_BUCKET = "thanos"
DEFAULT_STORAGE_SIZE = "20Gi"
SEAWEEDFS_S3_PORT = 8333
SEAWEEDFS_METRICS_PORT = 9327
MINIO_S3_PORT = 9000
# Where the FILESYSTEM bucket is mounted in every Thanos container.
FILESYSTEM_DIR = "/var/thanos/bucket"
# Thanos objstore types accepted for ``external``.
EXTERNAL_TYPES = ("S3", "GCS", "AZURE", "SWIFT", "COS", "ALIYUNOSS", "BOS", "OCI", "OBS")
# S3 bucket names, the subset every engine accepts: 3-63 lower-case
# letters, digits and hyphens, starting and ending with a letter or digit.
# The server's requests and limits per self-hosted engine; objectStore.resources
# overrides them key by key.
DEFAULT_RESOURCES = {
    "seaweedfs": Resources(cpu_request="100m", memory_request="256Mi", cpu_limit="1", memory_limit="1Gi"),
    "minio": Resources(),
}
# Keys that size or place the server, which only self-hosted engines run.
SERVER_KEYS = ("storage_class", "resources", "scheduling")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class ObjectStoreArgs(TypedDict, total=False):
    engine: str
    """One of ``seaweedfs`` (default), ``minio``, ``filesystem``, ``external``."""
    bucket: str
    """Bucket name for self-hosted engines (default ``thanos``)."""
    external_config: pulumi.Input[str]
    """``external`` only: the Thanos objstore YAML. Wrapped as a secret."""
    storage_size: str
    """Volume size for self-hosted engines (default ``20Gi``)."""
    resources: ResourcesArgs
    """Self-hosted engines: the server's requests and limits (default requests 100m/256Mi for
    SeaweedFS, 100m/128Mi for MinIO; limits 1/1Gi)."""
    scheduling: SchedulingArgs
    """Kubernetes only, self-hosted engines: where the server may run (default: anywhere)."""
    storage_class: str
    """Kubernetes only, self-hosted engines: StorageClass of its volume (default: the target's)."""
    image: str
    """Override the engine's image (default: pinned in ``versions.py``)."""
    target: Required[Target]
    """Where it runs: a ``DockerTarget`` or ``KubernetesTarget`` (required)."""


def validate_object_store_args(args: Mapping[str, Any], target_kind: str) -> ObjectStoreSettings:
    """The settings (args without ``target``) merged with defaults, or raise ``ValueError``."""
    a = check_args("ObjectStoreArgs", args, ObjectStoreArgs.__annotations__)
    engine = a.setdefault("engine", DEFAULT_ENGINE)
    check_choice("objectStore.engine", engine, ENGINES)
    if target_kind == "kubernetes" and engine == "filesystem":
        raise ValueError(
            "objectStore.engine: 'filesystem' needs one volume shared by every Thanos process and runs on "
            "the docker target only; allowed values on kubernetes: seaweedfs, minio, external"
        )
    bucket = a.setdefault("bucket", DEFAULT_BUCKET)
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket):
        raise ValueError(
            f"objectStore.bucket: {bucket!r} is not a valid bucket name; allowed: 3-63 lower-case letters, digits and '-'"
        )
    if engine == "external":
        cfg = a.get("external_config")
        if cfg is None or (isinstance(cfg, str) and not cfg.strip()):
            raise ValueError(
                "objectStore.externalConfig: engine 'external' needs a Thanos objstore config "
                "(set it with `pulumi config set --secret agentstream:objstoreConfig ...`)"
            )
        # A secret from the stack config is an Output, checked when it resolves.
        a["external_config"] = checked(cfg, _check_external_config)
    check_size("objectStore.storageSize", a.setdefault("storage_size", DEFAULT_STORAGE_SIZE))
    if engine in ("seaweedfs", "minio"):
        default = versions.SEAWEEDFS_IMAGE if engine == "seaweedfs" else versions.MINIO_IMAGE
        check_image(f"images.{engine}", a.setdefault("image", default))
        a["resources"] = validate_resources("objectStore.resources", a.get("resources"), DEFAULT_RESOURCES[engine])
        a["scheduling"] = validate_scheduling("objectStore.scheduling", a.get("scheduling"), target_kind)
        a["storage_class"] = validate_storage_class("objectStore.storageClass", a.get("storage_class"), target_kind)
    else:
        for key in SERVER_KEYS:
            if a.get(key) is not None:
                raise ValueError(
                    f"objectStore.{camel(key)}: has no effect with engine {engine!r} (no server runs); "
                    "allowed: remove it, or use engine seaweedfs or minio"
                )
    return ObjectStoreSettings(**a)


def _check_external_config(text: object) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            "objectStore.externalConfig: engine 'external' needs a Thanos objstore config, as YAML text "
            f"(got {type(text).__name__}); set it with `pulumi config set --secret agentstream:objstoreConfig ...`"
        )
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"objectStore.externalConfig: not valid YAML ({e.__class__.__name__})") from None
    kind = parsed.get("type") if isinstance(parsed, dict) else None
    if kind not in EXTERNAL_TYPES or not isinstance(parsed.get("config"), dict):
        raise ValueError(
            "objectStore.externalConfig: must be a Thanos objstore config with `type` and `config`; "
            f"allowed types: {', '.join(EXTERNAL_TYPES)}"
        )


# -- the component --------------------------------------------------------------
class ObjectStore(pulumi.ComponentResource):
    """A bucket for Thanos, self-hosted or external.

    Outputs: ``objstore_config`` (secret Thanos objstore YAML), ``endpoint``,
    ``bucket``.
    """

    objstore_config: pulumi.Output[str]
    """The Thanos objstore config (YAML), a secret."""
    endpoint: pulumi.Output[str]
    """The bucket's endpoint (S3 URL, ``file://`` path, or ``external``)."""
    bucket: pulumi.Output[str]
    """The bucket's name."""

    def __init__(self, name: str, args: ObjectStoreArgs, opts: Optional[pulumi.ResourceOptions] = None):
        a, target = split_args(ObjectStoreArgs, args)
        s = validate_object_store_args(a, target.kind)
        super().__init__("agentstream:index:ObjectStore", name, None, opts)
        self.engine: str = s.engine
        self.target = target
        # Volumes every Thanos workload using this store must mount.
        self.volumes: list[Volume] = []
        self.workloads: list[Workload] = []
        self.resources: list[pulumi.Resource] = []
        child = pulumi.ResourceOptions(parent=self)
        bucket: str = s.bucket

        if self.engine == "external":
            self.objstore_config = pulumi.Output.secret(s.external_config)
            self.endpoint = pulumi.Output.from_input("external")
            self.bucket = pulumi.Output.secret(s.external_config).apply(_external_bucket)
        elif self.engine == "filesystem":
            self.volumes.append(Volume(name="bucket", mount_path=FILESYSTEM_DIR, shared_name=f"{name}-bucket"))
            self.objstore_config = pulumi.Output.secret(render_filesystem_objstore(FILESYSTEM_DIR))
            self.endpoint = pulumi.Output.from_input(f"file://{FILESYSTEM_DIR}")
            self.bucket = pulumi.Output.from_input(f"{name}-bucket")
        else:
            # RandomPassword, not RandomString, for the access key too: a
            # RandomString's id is its value, stored in plain text in state.
            access_key = random.RandomPassword(
                f"{name}-access-key", length=20, special=False, lower=False, opts=child
            )
            secret_key = random.RandomPassword(f"{name}-secret-key", length=40, special=False, opts=child)
            workload_name = f"{name}-{self.engine}"
            if self.engine == "seaweedfs":
                port = SEAWEEDFS_S3_PORT
                workload = self._seaweedfs(workload_name, s, bucket, access_key.result, secret_key.result)
            else:
                port = MINIO_S3_PORT
                workload = self._minio(workload_name, s, bucket, access_key.result, secret_key.result)
            endpoint = f"{target.service_host(workload_name)}:{port}"
            self.workloads.append(workload)
            self.resources += target.deploy(workload, parent=self).resources
            self.objstore_config = pulumi.Output.secret(
                pulumi.Output.all(access_key.result, secret_key.result).apply(
                    lambda keys: render_s3_objstore(
                        bucket=bucket, endpoint=endpoint, access_key=keys[0], secret_key=keys[1], insecure=True
                    )
                )
            )
            self.endpoint = pulumi.Output.from_input(f"http://{endpoint}")
            self.bucket = pulumi.Output.from_input(bucket)

        self.register_outputs(
            {"objstore_config": self.objstore_config, "endpoint": self.endpoint, "bucket": self.bucket}
        )

    def _seaweedfs(
        self, wname: str, s: ObjectStoreSettings, bucket: str, access: pulumi.Output[str], secret: pulumi.Output[str]
    ) -> Workload:
        # Validation sets the server's keys for the self-hosted engines.
        assert s.image is not None and s.resources is not None
        identities: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(access, secret).apply(
                lambda k: render_seaweedfs_identities(access_key=k[0], secret_key=k[1])
            )
        )
        return Workload(
            name=wname,
            component="seaweedfs",
            image=s.image,
            command=["/usr/bin/weed"],
            args=[
                "-logtostderr=true",
                "mini",
                "-dir=/data",
                # Credentials come from a file, not env or argv; without an
                # identity SeaweedFS would allow anonymous access.
                "-s3.config=/etc/seaweedfs/s3.json",
                f"-s3.port={SEAWEEDFS_S3_PORT}",
                f"-bucket={bucket}",
                # Ports pinned: weed mini silently moves a busy default port.
                "-master.port=9333",
                "-volume.port=9340",
                "-filer.port=8888",
                "-webdav=false",
                "-admin.ui=false",
                "-master.telemetry=false",
                # Prometheus metrics of the whole mini server, for self-monitoring.
                f"-metricsPort={SEAWEEDFS_METRICS_PORT}",
            ],
            ports=[Port("s3", SEAWEEDFS_S3_PORT), Port("metrics", SEAWEEDFS_METRICS_PORT)],
            health=HealthCheck(port=SEAWEEDFS_S3_PORT, ready_path="/healthz", live_path="/healthz", start_period=20),
            config_files=[ConfigFile("/etc/seaweedfs/s3.json", identities, secret=True)],
            volumes=[Volume("data", "/data", size=s.storage_size)],
            user="1000",
            resources=s.resources,
            scheduling=scheduling(s.scheduling),
            storage_class=s.storage_class,
        )

    def _minio(
        self, wname: str, s: ObjectStoreSettings, bucket: str, access: pulumi.Output[str], secret: pulumi.Output[str]
    ) -> Workload:
        # Validation sets the server's keys for the self-hosted engines.
        assert s.image is not None and s.resources is not None
        # MinIO reads root credentials from *_FILE env vars pointing at files,
        # so the keys never sit in plain env or argv.
        return Workload(
            name=wname,
            component="minio",
            image=s.image,
            # The upstream image ships `mc`: once the server answers, create
            # the bucket, then hand the shell over to the server. mc gets the
            # keys through MC_HOST_local, built inside the container from the
            # mounted secret files, so they never reach argv or plain env.
            command=["/bin/sh", "-c"],
            args=[_MINIO_START.format(port=MINIO_S3_PORT, bucket=bucket)],
            ports=[Port("s3", MINIO_S3_PORT)],
            health=HealthCheck(
                port=MINIO_S3_PORT, ready_path="/minio/health/ready", live_path="/minio/health/live", http_client="curl"
            ),
            env={
                "MINIO_ROOT_USER_FILE": "/run/secrets/minio/access_key",
                "MINIO_ROOT_PASSWORD_FILE": "/run/secrets/minio/secret_key",
                "MINIO_BROWSER": "off",
                # Its metrics without a bearer token, for self-monitoring: they
                # stay on the private network (no port of MinIO is published).
                "MINIO_PROMETHEUS_AUTH_TYPE": "public",
                # Writable places for a read-only root filesystem.
                "MC_CONFIG_DIR": "/tmp/.mc",
                "HOME": "/tmp",
            },
            config_files=[
                ConfigFile("/run/secrets/minio/access_key", pulumi.Output.secret(access), secret=True),
                ConfigFile("/run/secrets/minio/secret_key", pulumi.Output.secret(secret), secret=True),
            ],
            volumes=[Volume("data", "/data", size=s.storage_size)],
            user="1000",
            resources=s.resources,
            scheduling=scheduling(s.scheduling),
            storage_class=s.storage_class,
        )


_MINIO_START = (
    "minio server /data --address :{port} --certs-dir /tmp/minio-certs & server=$!; "
    "export MC_HOST_local=\"http://$(cat /run/secrets/minio/access_key):$(cat /run/secrets/minio/secret_key)@127.0.0.1:{port}\"; "
    "n=0; until mc mb --ignore-existing local/{bucket} >/dev/null 2>&1; do "
    "n=$((n+1)); [ $n -gt 60 ] && echo 'could not create bucket {bucket}' >&2 && kill $server && exit 1; sleep 1; done; "
    "unset MC_HOST_local; wait $server"
)


def _external_bucket(text: str) -> str:
    parsed = yaml.safe_load(text) or {}
    cfg = parsed.get("config") or {}
    return str(cfg.get("bucket") or cfg.get("container") or cfg.get("name") or "")

