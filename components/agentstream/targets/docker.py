"""Docker target: renders workloads as ``pulumi_docker`` containers.

One user-defined network, with a DNS alias per workload (round-robin over its
instances) and per instance. Config files are uploaded into the containers
(a changed one replaces them, one at a time), except live ones: those sit on
a named volume per workload, ``<workload>-live``, that every instance mounts
read-only and one-shot writer containers fill (see ``_live_writer``), so a
change reaches the running instances in place.
Only ports marked ``publish`` reach the host, on ``publish_address``
(127.0.0.1 by default).

Instances of a workload that already runs are chained, so a replacement
rolls one healthy instance at a time; a workload none of whose instances
exist yet starts all of them together (see ``DockerTarget._running``), like a
StatefulSet with ``podManagementPolicy: Parallel`` on Kubernetes.
"""

from __future__ import annotations

from typing import Any, Container, Optional, TypedDict

import pulumi
import pulumi_docker as docker

from ..quantity import quantity_mib, quantity_millicores
from ..settings import DockerTargetSettings
from ..spec import INSTANCE_ARG, INSTANCE_ENV, ConfigFile, Resources, Workload, live_directory
from ..validation import check_args, check_bool, check_choice, check_name, is_ip
from . import Deployed, Target
from .docker_health import ContainerHealthy, engine_container_names

DEFAULT_NETWORK = "agentstream"
DEFAULT_PUBLISH_ADDRESS = "127.0.0.1"
DEFAULT_RESTART = "unless-stopped"
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


class DockerTargetArgs(TypedDict, total=False):
    network: str
    """Docker network name (default ``agentstream``)."""
    publish_address: str
    """Host address published ports bind to (default ``127.0.0.1``)."""
    restart: str
    """Container restart policy (default ``unless-stopped``)."""
    wait: bool
    """Wait for each container to be healthy (default True): ``pulumi up``
    returns once every container passed its health check, a rolling update
    waits for each instance, and a workload that needs another answering
    waits for it (see :mod:`.docker_health`)."""
    create_network: bool
    """Create ``network`` (default True). False joins a network another stack
    created, e.g. an edge stack next to its central stack on one host (the
    Docker analogue of another namespace in the same cluster)."""


def validate_docker_args(args: Optional[DockerTargetArgs]) -> DockerTargetSettings:
    """The target's settings with defaults, or raise before anything exists."""
    a = check_args("DockerTargetArgs", args, DockerTargetArgs.__annotations__)
    check_name("docker.network", a.setdefault("network", DEFAULT_NETWORK))
    address = a.setdefault("publish_address", DEFAULT_PUBLISH_ADDRESS)
    # A str only: ip_address() would also take the integer 1 as 0.0.0.1.
    if not isinstance(address, str) or not is_ip(address):
        raise ValueError(
            f"docker.publishAddress: {address!r} is not an IP address; allowed: an address of "
            "this host, e.g. 127.0.0.1 (default) or 0.0.0.0 for every interface"
        )
    check_choice("docker.restart", a.setdefault("restart", DEFAULT_RESTART), RESTART_POLICIES)
    check_bool("docker.wait", a.setdefault("wait", True))
    check_bool("docker.createNetwork", a.setdefault("create_network", True))
    return DockerTargetSettings(**a)


class DockerTarget(Target):
    kind = "docker"

    def __init__(self, name: str, args: Optional[DockerTargetArgs] = None, opts: Optional[pulumi.ResourceOptions] = None):
        a = validate_docker_args(args)
        self.settings: DockerTargetSettings = a
        self.network_name: str = a.network
        self.publish_address: str = a.publish_address
        self.restart: str = a.restart
        self.wait: bool = a.wait
        # The health gates ask the Docker engine the provider talks to.
        self.docker_host: Optional[str] = pulumi.Config("docker").get("host")
        self.create_network: bool = a.create_network
        super().__init__("agentstream:index:DockerTarget", name, None, opts)
        self._prefix = name

        self.network: Optional[docker.Network] = None
        if self.create_network:
            self.network = docker.Network(
                f"{name}-network",
                name=self.network_name,
                labels=[docker.NetworkLabelArgs(label="app.kubernetes.io/part-of", value="agentstream")],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.network_ref: pulumi.Input[str] = self.network.name
        else:
            # Looked up, not created: a missing network fails the preview
            # with the provider's message instead of a container create later.
            self.network_ref = docker.get_network_output(name=self.network_name).name
        self._images: dict[str, docker.RemoteImage] = {}
        # The engine's container names, asked at the first deploy (_running).
        self._engine_names: Optional[Container[str]] = None
        self._shared_volumes: dict[str, docker.Volume] = {}
        self.register_outputs({"network": self.network_ref})

    # -- where ---------------------------------------------------------------
    def service_host(self, workload_name: str) -> str:
        return workload_name

    def instance_host(self, workload_name: str, instance: str) -> str:
        return instance

    # -- how -----------------------------------------------------------------
    def _image(self, image: str) -> docker.RemoteImage:
        # One RemoteImage per distinct image, shared by every container.
        # keep_locally: removing a stack must not delete images other stacks use.
        if image not in self._images:
            self._images[image] = docker.RemoteImage(
                f"{self._prefix}-image-{_slug(image)}", name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=self)
            )
        return self._images[image]

    def _shared_volume(self, name: str) -> docker.Volume:
        if name not in self._shared_volumes:
            self._shared_volumes[name] = docker.Volume(
                f"{self._prefix}-{name}", name=name, labels=_volume_labels(name), opts=pulumi.ResourceOptions(parent=self)
            )
        return self._shared_volumes[name]

    def _running(self, workload: Workload) -> bool:
        """Whether the engine has any of the workload's instances: the
        workload runs, and this ``pulumi up`` updates it.

        Two orders matter only then. Its instances are chained, each created
        (and so replaced) once the one before it is healthy: that is what
        makes a replacement roll, and on a first deployment it would only
        cost a health wait per instance (Docker runs a container's first
        check one interval after the start). And the live-file sync writer
        waits for every instance: a changed ring must name only ready
        members; on a first deployment it writes what the seed wrote.
        So a workload that does not run yet starts its instances together,
        like a StatefulSet with ``podManagementPolicy: Parallel``, and any
        later ``pulumi up`` finds them and orders them.

        A program cannot read Pulumi's state, so the engine is asked: once
        per program, for every container name it has (docker-py, the engine
        the gates ask). It was a ``docker.getLogs`` invoke per workload; a
        synchronous invoke runs the program's whole pending event loop, so
        each one cost more than the last (issue 11's P5: superlinear in the
        number of fleets). An engine that cannot be asked orders everything
        as running: the safe order.
        """
        if self._engine_names is None:
            try:
                self._engine_names = engine_container_names(self.docker_host)
            except Exception as e:  # noqa: BLE001 - docker-py's or the engine's, whatever its type
                pulumi.log.info(f"ordering every workload as running (could not list the engine's containers: {e})", self)
                self._engine_names = EVERY_NAME
        return any(instance in self._engine_names for instance in workload.instance_names())

    def deploy(
        self, workload: Workload, parent: pulumi.Resource, depends_on: Optional[list[pulumi.Resource]] = None
    ) -> Deployed:
        image = self._image(workload.image)
        deployed = Deployed(workload=workload)
        previous_ready: Optional[pulumi.Resource] = None
        running = self._running(workload)
        live_dir = live_directory(workload.config_files)
        live = [f for f in workload.config_files if f.live]
        live_volume: Optional[docker.Volume] = None
        live_seed: Optional[docker.Container] = None
        if live_dir is not None:
            live_volume = docker.Volume(
                f"{workload.name}-live", name=f"{workload.name}-live", labels=_volume_labels(workload.name),
                opts=pulumi.ResourceOptions(parent=parent),
            )
            # The first copy, before any instance starts (a process cannot
            # start without its file). It writes only into an empty volume,
            # so when it re-runs for a changed file it leaves the running
            # instances' copy alone: that is the sync writer's, below. It
            # waits for nothing the workload waits for: it only fills a
            # volume, so it runs while those start (the instances still wait
            # for both).
            live_seed = _live_writer(
                f"{workload.name}-live-init", workload, image, live_volume, live, seed=True,
                opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
            )
            deployed.resources += [live_volume, live_seed]
        for index, instance in enumerate(workload.instance_names()):
            volumes = []
            for vol in workload.volumes:
                if vol.shared_name:
                    volume = self._shared_volume(vol.shared_name)
                else:
                    volume = docker.Volume(
                        f"{instance}-{vol.name}",
                        name=f"{instance}-{vol.name}",
                        labels=_volume_labels(instance),
                        opts=pulumi.ResourceOptions(parent=parent),
                    )
                deployed.resources.append(volume)
                # read_only written out: Docker reports False for a rw mount,
                # and a mount left None in state made every `pulumi refresh`
                # report the container as changed (nothing to do on `up`).
                volumes.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path=vol.mount_path, read_only=False))

            # A fresh named volume is owned by root; the servers run as their
            # upstream non-root users. A one-shot root container hands each
            # volume to that user first (the Docker analogue of fsGroup).
            init = None
            if volumes and workload.user not in ("0", "root"):
                init = docker.Container(
                    f"{instance}-volume-init",
                    name=f"{instance}-volume-init",
                    image=image.image_id,
                    entrypoints=["chown"],
                    command=["-R", f"{workload.user}:{workload.user}", *[v.mount_path for v in workload.volumes]],
                    user="0",
                    volumes=volumes,
                    must_run=False,
                    attach=True,
                    restart="no",
                    labels=[docker.ContainerLabelArgs(label="app.kubernetes.io/part-of", value=workload.part_of)],
                    opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
                )
                deployed.resources.append(init)

            ports = []
            # Published ports go on the first instance only: a second
            # instance cannot bind the same host port, and one entry point is
            # what a person or a remote edge needs on a single host.
            if index == 0:
                for p in workload.ports:
                    if p.publish:
                        ports.append(
                            docker.ContainerPortArgs(internal=p.port, external=p.host_port or p.port, ip=self.publish_address)
                        )
                        deployed.urls[p.name] = f"http://{self.publish_address}:{p.host_port or p.port}"

            container = docker.Container(
                instance,
                name=instance,
                hostname=instance,
                image=image.image_id,
                entrypoints=workload.command,
                command=[a.replace(INSTANCE_ARG, instance) for a in workload.args],
                envs=_envs(workload, instance),
                user=workload.user,
                uploads=[
                    docker.ContainerUploadArgs(file=f.path, content=f.content) for f in workload.config_files if not f.live
                ],
                volumes=[
                    *volumes,
                    *(
                        [docker.ContainerVolumeArgs(volume_name=live_volume.name, container_path=live_dir, read_only=True)]
                        if live_volume is not None and live_dir is not None
                        else []
                    ),
                ]
                or None,
                ports=ports or None,
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=self.network_ref, aliases=[workload.name, instance])
                ],
                healthcheck=docker.ContainerHealthcheckArgs(
                    tests=_health_test(workload),
                    # Docker reports durations back in Go's format; sending
                    # them that way keeps `pulumi refresh` free of drift.
                    interval=go_duration(HEALTH_INTERVAL_SECONDS),
                    timeout=go_duration(HEALTH_TIMEOUT_SECONDS),
                    retries=HEALTH_RETRIES,
                    start_period=go_duration(workload.health.start_period),
                ),
                # Requests and limits are container properties on Docker too:
                # the memory limit (OOM-kill above it), the request as a soft
                # reservation, CPU as a hard cap and a proportional weight.
                **docker_resources(workload.resources),
                restart=self.restart,
                must_run=True,
                # Never the provider's wait: that makes every dependent wait
                # for the health check too. The gate below waits instead.
                wait=False,
                # SIGTERM first, so receive flushes its head and uploads it,
                # and an agent closes its WAL cleanly.
                destroy_grace_seconds=workload.stop_grace,
                labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in _labels(workload, instance).items()],
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    depends_on=[
                        *(depends_on or []), *([init] if init else []), *([live_seed] if live_seed else []),
                        *([previous_ready] if previous_ready and running else []),
                    ]
                    or None,
                    # Names are fixed (they are the instances' DNS names), so
                    # a replacement must remove the old container first...
                    delete_before_replace=True,
                ),
            )
            # ...and, once the workload runs, each instance waits for the one
            # before it: Pulumi then replaces them one at a time, each healthy
            # before the next goes down, so a fleet or the receive ring always
            # has members running (a rolling update, like a StatefulSet's). A
            # depends_on edge does not make a replacement cascade; only
            # property dependencies do.
            deployed.resources.append(container)
            deployed.servers.append(container)
            previous_ready = container
            if self.wait:
                # The container's first passing check: what a dependent that
                # needs the instance answering (and the next instance of a
                # rolling update) waits for, while `servers` only orders.
                previous_ready = ContainerHealthy(
                    f"{instance}-healthy",
                    container_id=container.id,
                    container_name=container.name,
                    timeout=WAIT_TIMEOUT_SECONDS,
                    host=self.docker_host,
                    opts=pulumi.ResourceOptions(parent=parent),
                )
                deployed.resources.append(previous_ready)
        if live_volume is not None:
            # The copy the running instances read, rewritten on every change,
            # after whatever the workload waits for (a router tier waits for
            # the receivers) and, once the workload runs, once every instance
            # (a new one too) is up and healthy: a ring names a receiver only
            # once it is ready. Only `depends_on`: a changed file re-runs
            # this writer and replaces no instance.
            sync = _live_writer(
                f"{workload.name}-live-sync", workload, image, live_volume, live, seed=False,
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    depends_on=[*(depends_on or []), *(deployed.resources if running else [r for r in [live_seed] if r is not None])],
                    delete_before_replace=True,
                ),
            )
            deployed.resources.append(sync)
        return deployed


LIVE_MOUNT = "/live"


def live_writer_script(files: list[ConfigFile], seed: bool, wait_seconds: int = 0) -> str:
    """The shell script of a live-file writer (busybox ``sh``, which the
    Thanos and Prometheus images ship).

    Each file arrives as an upload at its own path in the writer and is
    copied onto the volume (mounted at ``LIVE_MOUNT``) under a temporary
    name, then renamed over the old one: a reader sees the old file or the
    new one, never half of one. ``seed`` writes only files the volume does
    not have yet. Otherwise only files that differ are written, and only
    then does it wait ``wait_seconds``, so every running reader has re-read
    them before ``pulumi up`` goes on; a first deploy, whose seed already
    wrote the same files, does not wait.
    """
    steps = []
    for f in files:
        name = f.path.rsplit("/", 1)[-1]
        target, tmp = f"{LIVE_MOUNT}/{name}", f"{LIVE_MOUNT}/.{name}.tmp"
        copy = f"cp {f.path} {tmp} && mv -f {tmp} {target}"
        if seed:
            steps.append(f"[ -e {target} ] || {{ {copy}; }}")
        else:
            steps.append(f"cmp -s {f.path} {target} || {{ {copy} && changed=1; }}")
    if seed:
        return "set -e; " + "; ".join(steps)
    wait = f"[ $changed = 0 ] || sleep {wait_seconds}" if wait_seconds else "true"
    return "set -e; changed=0; " + "; ".join(steps) + "; " + wait


def _live_writer(
    name: str, workload: Workload, image: docker.RemoteImage, volume: docker.Volume, files: list[ConfigFile],
    seed: bool, opts: pulumi.ResourceOptions,
) -> docker.Container:
    """A one-shot container that writes ``files`` onto the live volume.

    The files are its own uploads (a change re-creates the writer, which
    runs again) at the very paths its readers see, so a reviewer or a
    policy finds a live file's content where it finds any other."""
    wait = 0 if seed else max((f.reload_seconds for f in files), default=0)
    return docker.Container(
        name,
        name=name,
        image=image.image_id,
        entrypoints=["sh", "-c"],
        command=[live_writer_script(files, seed, wait)],
        # Root: a fresh named volume is root's; the files it writes are
        # world-readable (the readers mount the volume read-only).
        user="0",
        uploads=[docker.ContainerUploadArgs(file=f.path, content=f.content) for f in files],
        volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=LIVE_MOUNT, read_only=False)],
        must_run=False,
        attach=True,
        restart="no",
        labels=[
            docker.ContainerLabelArgs(label="app.kubernetes.io/part-of", value=workload.part_of),
            docker.ContainerLabelArgs(label="app.kubernetes.io/instance", value=workload.name),
        ],
        opts=opts,
    )


class _EveryName:
    """Every name: what an engine that cannot be asked is taken to have."""

    def __contains__(self, name: object) -> bool:
        return True


EVERY_NAME = _EveryName()

HEALTH_INTERVAL_SECONDS = 5
HEALTH_TIMEOUT_SECONDS = 3
HEALTH_RETRIES = 10
WAIT_TIMEOUT_SECONDS = 180


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's ``time.Duration.String()`` writes them.

    Docker stores health-check durations as nanoseconds and the provider
    reads them back in this form (60 -> ``1m0s``), so anything else shows as
    a change on every ``pulumi up`` and ``pulumi refresh``.
    """
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}")
    if seconds == 0:
        return "0s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def _health_test(workload: Workload) -> list[str]:
    url = f"http://127.0.0.1:{workload.health.port}{workload.health.ready_path}"
    if workload.health.http_client == "curl":
        return ["CMD", "curl", "-fsS", "-o", "/dev/null", url]
    return ["CMD", "wget", "-q", "-O", "/dev/null", url]


def _envs(workload: Workload, instance: str) -> list[str]:
    # Plain values only: secrets reach a process as files (ConfigFile.secret),
    # never as env, which `docker inspect` shows to anyone on the host.
    return [f"{INSTANCE_ENV}={instance}"] + [f"{k}={v}" for k, v in sorted(workload.env.items())]


def _labels(workload: Workload, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": workload.component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": workload.component,
        "app.kubernetes.io/part-of": workload.part_of,
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/version": workload.image.rsplit(":", 1)[-1],
    }


def _volume_labels(owner: str) -> list[docker.VolumeLabelArgs]:
    return [
        docker.VolumeLabelArgs(label="app.kubernetes.io/part-of", value="agentstream"),
        docker.VolumeLabelArgs(label="app.kubernetes.io/instance", value=owner),
    ]


def _slug(image: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in image).strip("-")


def docker_resources(r: Resources) -> dict[str, Any]:
    """A workload's Kubernetes-style requests and limits as Docker container settings."""
    memory = quantity_mib(r.memory_limit)
    return {
        "memory": memory,
        # No swap on top of the limit (as on Kubernetes). Docker would
        # otherwise set twice the limit, and the provider reads that back as
        # drift on every refresh.
        "memory_swap": memory,
        "memory_reservation": quantity_mib(r.memory_request),
        "cpus": docker_cpus(quantity_millicores(r.cpu_limit)),
        # Docker's default weight is 1024 per CPU; a request of 250m gets 256.
        "cpu_shares": max(2, quantity_millicores(r.cpu_request) * 1024 // 1000),
    }


def docker_cpus(millicores: int) -> str:
    """CPUs as the docker provider reads them back ("1.0", "0.5", "1.25"),
    so a refresh finds no difference."""
    whole, frac = divmod(millicores, 1000)
    return f"{whole}.0" if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")
