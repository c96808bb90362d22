"""Materialise a stack's ``pulumi_docker`` resources on a real Docker engine.

Neither the Pulumi CLI nor its provider plugins can be had here, so this is
the smallest faithful stand-in for the docker provider's create/delete:
the stack program runs under the SDK's mock engine (``tests.support.
stack_runner``), and each recorded ``docker:*`` resource is created exactly as
its inputs say, through docker-py.

It understands only the properties the components use and fails loudly on any
other, so a component change cannot silently escape the real run. Every
resource's inputs are also checked against the pulumi-docker schema first.
"""

from __future__ import annotations

import io
import sys
import tarfile
import time
from dataclasses import dataclass, field
from typing import Callable

import docker
import docker.errors
import docker.types

from tests.support.docker_schema import validate_docker_resource
from tests.support.stack_runner import Resource, StackRun

# Properties this interpreter implements, per resource type. Anything else in
# a resource's inputs is an error (see module docstring).
SUPPORTED = {
    "docker:index/network:Network": {"name", "labels", "driver", "internal", "attachable"},
    "docker:index/volume:Volume": {"name", "labels", "driver"},
    "docker:index/remoteImage:RemoteImage": {"name", "keepLocally"},
    "docker:index/container:Container": {
        "name", "hostname", "image", "entrypoints", "command", "envs", "user", "uploads", "volumes", "ports",
        "networksAdvanced", "healthcheck", "restart", "mustRun", "wait", "waitTimeout", "labels", "attach",
    },
}
NESTED_SUPPORTED = {
    "uploads": {"file", "content"},
    "volumes": {"volumeName", "containerPath", "readOnly"},
    "ports": {"internal", "external", "ip", "protocol"},
    "networksAdvanced": {"name", "aliases"},
    "healthcheck": {"tests", "interval", "timeout", "retries", "startPeriod"},
    "labels": {"label", "value"},
}


def log(msg: str) -> None:
    print(f"[harness] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class UnsupportedProperty(Exception):
    pass


def check_supported(r: Resource) -> None:
    if r.type not in SUPPORTED:
        raise UnsupportedProperty(f"{r.name}: resource type {r.type} is not implemented by the e2e harness")
    extra = set(r.inputs) - SUPPORTED[r.type]
    if extra:
        raise UnsupportedProperty(f"{r.name} ({r.type}): properties {sorted(extra)} are not implemented by the harness")
    for prop, allowed in NESTED_SUPPORTED.items():
        value = r.inputs.get(prop)
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        for item in items:
            unknown = set(item) - allowed
            if unknown:
                raise UnsupportedProperty(f"{r.name}: {prop} properties {sorted(unknown)} are not implemented")
    errors = validate_docker_resource(r.type, r.inputs)
    if errors:
        raise UnsupportedProperty(f"{r.name}: does not match the pulumi-docker schema: {errors}")


def _duration_ns(value: str | None) -> int | None:
    """Docker healthcheck durations ("5s", "1m30s") in nanoseconds."""
    if not value:
        return None
    total, num = 0.0, ""
    units = {"ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
    i = 0
    while i < len(value):
        c = value[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = "ms" if value[i:i + 2] == "ms" else c
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    return int(total)


def _tar(path: str, content: str) -> tuple[str, bytes]:
    directory, _, filename = path.rpartition("/")
    buf = io.BytesIO()
    data = content.encode()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(filename)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return directory or "/", buf.getvalue()


@dataclass
class Deployment:
    """What the harness created, for inspection and teardown."""

    client: docker.DockerClient
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)   # long-running, by name
    one_shots: list[str] = field(default_factory=list)

    def destroy(self) -> None:
        """Delete in reverse: containers, then volumes, then networks (like `pulumi destroy`)."""
        for name in reversed(self.containers + self.one_shots):
            try:
                # v=True: also the anonymous volumes an image's VOLUME creates.
                self.client.containers.get(name).remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        for name in self.volumes:
            try:
                self.client.volumes.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        for name in self.networks:
            try:
                self.client.networks.get(name).remove()
            except docker.errors.NotFound:
                pass

    def leftovers(self) -> list[str]:
        left = []
        for name in self.containers + self.one_shots:
            if self.client.containers.list(all=True, filters={"name": f"^/{name}$"}):
                left.append(f"container {name}")
        for name in self.volumes:
            if self.client.volumes.list(filters={"name": name}):
                left.extend(f"volume {v.name}" for v in self.client.volumes.list(filters={"name": name}) if v.name == name)
        for name in self.networks:
            left.extend(f"network {n.name}" for n in self.client.networks.list(names=[name]) if n.name == name)
        return left


def _order(containers: list[Resource]) -> list[Resource]:
    """Topological order over depends_on (registration order breaks ties)."""
    by_urn = {r.urn: r for r in containers}
    done: set[str] = set()
    ordered: list[Resource] = []

    def visit(r: Resource, stack: tuple[str, ...] = ()) -> None:
        if r.urn in done:
            return
        if r.urn in stack:
            raise RuntimeError(f"dependency cycle through {r.name}")
        for dep in r.depends_on:
            if dep in by_urn:
                visit(by_urn[dep], stack + (r.urn,))
        done.add(r.urn)
        ordered.append(r)

    for r in containers:
        visit(r)
    return ordered


def materialize(run: StackRun, client: docker.DockerClient | None = None, on_container: Callable[[str], None] | None = None) -> Deployment:
    """Create every docker resource of ``run``; wait where the inputs say ``wait``/``attach``."""
    client = client or docker.from_env()
    docker_resources = [r for r in run.resources if r.type.startswith("docker:")]
    for r in docker_resources:
        check_supported(r)
    dep = Deployment(client)
    try:
        for r in docker_resources:
            if r.type == "docker:index/remoteImage:RemoteImage":
                # No registry is reachable: the image must already be local.
                try:
                    client.images.get(r.inputs["name"])
                except docker.errors.ImageNotFound:
                    raise RuntimeError(f"image {r.inputs['name']} is not present locally; run scripts/e2e-setup.sh") from None
        for r in docker_resources:
            if r.type == "docker:index/network:Network":
                labels = {x["label"]: x["value"] for x in r.inputs.get("labels", [])}
                client.networks.create(r.inputs["name"], driver=r.inputs.get("driver", "bridge"), labels=labels,
                                       internal=r.inputs.get("internal", False), attachable=r.inputs.get("attachable", False))
                dep.networks.append(r.inputs["name"])
                log(f"network {r.inputs['name']} created")
        for r in docker_resources:
            if r.type == "docker:index/volume:Volume":
                labels = {x["label"]: x["value"] for x in r.inputs.get("labels", [])}
                client.volumes.create(r.inputs["name"], driver=r.inputs.get("driver", "local"), labels=labels)
                dep.volumes.append(r.inputs["name"])
        containers = _order([r for r in docker_resources if r.type == "docker:index/container:Container"])
        for r in containers:
            _create_container(client, r, dep)
            if on_container:
                on_container(r.inputs["name"])
    except BaseException:
        log("creation failed; tearing down what was created")
        _dump_logs(client, dep)
        dep.destroy()
        raise
    return dep


def _create_container(client: docker.DockerClient, r: Resource, dep: Deployment) -> None:
    i = r.inputs
    name = i["name"]
    networks = i.get("networksAdvanced", [])
    first_net = networks[0] if networks else None
    hc = i.get("healthcheck")
    healthcheck = None
    if hc:
        healthcheck = docker.types.Healthcheck(
            test=hc["tests"],
            interval=_duration_ns(hc.get("interval")),
            timeout=_duration_ns(hc.get("timeout")),
            retries=hc.get("retries"),
            start_period=_duration_ns(hc.get("startPeriod")),
        )
    ports = {}
    for p in i.get("ports", []):
        ports[f"{p['internal']}/{p.get('protocol', 'tcp')}"] = (p.get("ip", "0.0.0.0"), p.get("external", p["internal"]))
    mounts = [
        docker.types.Mount(target=v["containerPath"], source=v["volumeName"], type="volume", read_only=v.get("readOnly", False))
        for v in i.get("volumes", [])
    ]
    restart = i.get("restart", "no")
    container = client.containers.create(
        image=i["image"],
        name=name,
        hostname=i.get("hostname"),
        entrypoint=i.get("entrypoints"),
        command=i.get("command"),
        environment=i.get("envs"),
        user=i.get("user"),
        labels={x["label"]: x["value"] for x in i.get("labels", [])},
        mounts=mounts,
        ports=ports or None,
        healthcheck=healthcheck,
        restart_policy={"Name": restart} if restart != "no" else None,
        network=first_net["name"] if first_net else None,
        networking_config=(
            {first_net["name"]: client.api.create_endpoint_config(aliases=first_net.get("aliases"))} if first_net else None
        ),
        detach=True,
    )
    (dep.one_shots if i.get("attach") else dep.containers).append(name)
    for net in networks[1:]:
        client.networks.get(net["name"]).connect(container, aliases=net.get("aliases"))
    for u in i.get("uploads", []):
        directory, data = _tar(u["file"], u["content"])
        # put_archive needs the directory; create it in the stopped container.
        _ensure_dir(container, directory)
        container.put_archive(directory, data)
    container.start()
    if i.get("attach"):
        # attach: the provider waits for the container to exit, like a job.
        result = container.wait(timeout=120)
        if result.get("StatusCode") != 0:
            raise RuntimeError(f"{name} exited {result}: {container.logs().decode(errors='replace')[-2000:]}")
        log(f"{name}: one-shot finished")
        return
    if i.get("wait"):
        _wait_healthy(container, timeout=int(i.get("waitTimeout", 60)))


def _ensure_dir(container, directory: str) -> None:
    # An empty tar of the parents creates them (owned by root, mode 0755).
    parts = [p for p in directory.split("/") if p]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for depth in range(1, len(parts) + 1):
            info = tarfile.TarInfo("/".join(parts[:depth]))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
    container.put_archive("/", buf.getvalue())


def _wait_healthy(container, timeout: int) -> None:
    start = time.time()
    last = None
    while time.time() - start < timeout:
        container.reload()
        state = container.attrs["State"]
        health = (state.get("Health") or {}).get("Status")
        if health != last:
            log(f"{container.name}: {state['Status']}, health {health}")
            last = health
        if health == "healthy":
            return
        if state["Status"] in ("exited", "dead") and not state.get("Restarting"):
            break
        time.sleep(1)
    logs = container.logs(tail=40).decode(errors="replace")
    raise RuntimeError(f"{container.name} not healthy after {int(time.time() - start)}s; last logs:\n{logs}")


def _dump_logs(client: docker.DockerClient, dep: Deployment) -> None:
    for name in dep.containers:
        try:
            c = client.containers.get(name)
            log(f"--- logs of {name} ({c.status}) ---\n{c.logs(tail=15).decode(errors='replace')}")
        except docker.errors.NotFound:
            pass
