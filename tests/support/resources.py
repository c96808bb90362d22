"""Helpers to read a :class:`StackRun`'s recorded resources.

Shared by the unit tests: find containers
and Kubernetes objects, read the config files a workload actually sees, pick
flags out of argument lists, and look for secrets where they must not be.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from .stack_runner import Resource, StackRun, auto_name

COMPONENT_TYPES = {
    "agentstream:index:ObjectStore",
    "agentstream:index:ReceiveCluster",
    "agentstream:index:AgentFleet",
    "agentstream:index:SelfMonitoring",
    "agentstream:index:Alerting",
    "agentstream:index:DockerTarget",
    "agentstream:index:KubernetesTarget",
}
CONTAINER = "docker:index/container:Container"
# The Docker target's health gate of a container (agentstream.targets.docker_health).
HEALTH_GATE = "pulumi-python:dynamic/agentstream:ContainerHealthy"
INSTANCE_ARG = "$(INSTANCE)"


# -- generic -------------------------------------------------------------------------
def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar in a nested input value, with its dotted path (as in ``secret_paths``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}.{i}" if path else str(i))
    else:
        yield path, value


def flags(args: list[str], name: str) -> list[str]:
    """Values of ``--name=value`` in ``args`` (in order)."""
    prefix = f"--{name}="
    return [a[len(prefix):] for a in args if a.startswith(prefix)]


def flag(args: list[str], name: str) -> str:
    values = flags(args, name)
    assert len(values) == 1, f"expected --{name} exactly once in {args}, found {values}"
    return values[0]


def expand_instance(value: str, instance: str) -> str:
    """What Kubernetes does to ``$(INSTANCE)`` in args (INSTANCE = the pod name)."""
    return value.replace(INSTANCE_ARG, instance)


def component(run: StackRun, name: str) -> Resource:
    matches = [r for r in run.resources if r.name == name and r.type in COMPONENT_TYPES]
    assert len(matches) == 1, f"expected one component named {name!r}, found {len(matches)}"
    return matches[0]


def secret_values(run: StackRun) -> set[str]:
    """Every string value recorded under a secret path, anywhere in the run."""
    found = set()
    for r in run.resources:
        for path, value in leaves(r.inputs):
            if isinstance(value, str) and value and r.is_secret(path):
                found.add(value)
    return found


def plain_occurrences(run: StackRun, needle: str) -> list[str]:
    """``resource:path`` of every non-secret input value that contains ``needle``."""
    hits = []
    for r in run.resources:
        for path, value in leaves(r.inputs):
            if isinstance(value, str) and needle in value and not r.is_secret(path):
                hits.append(f"{r.name}:{path}")
    return hits


# -- docker --------------------------------------------------------------------------
def containers(run: StackRun) -> list[Resource]:
    """Long-running containers (``mustRun``), not the one-shot volume-init ones."""
    return [r for r in run.of_type(CONTAINER) if r.inputs.get("mustRun") is not False]


def one_shot_containers(run: StackRun) -> list[Resource]:
    return [r for r in run.of_type(CONTAINER) if r.inputs.get("mustRun") is False]


def health_gate(run: StackRun, container: Resource) -> Resource:
    """The health gate of ``container`` (exactly one)."""
    gates = [r for r in run.of_type(HEALTH_GATE) if r.inputs.get("name") == container.name]
    assert len(gates) == 1, f"{container.name}: expected one health gate, found {len(gates)}"
    return gates[0]


def containers_of(run: StackRun, workload: str) -> list[Resource]:
    """The containers of one workload (``<workload>-<i>``), by instance order."""
    found = [r for r in containers(run) if r.name.rsplit("-", 1)[0] == workload and r.name.rsplit("-", 1)[1].isdigit()]
    return sorted(found, key=lambda r: int(r.name.rsplit("-", 1)[1]))


def upload(container: Resource, path: str) -> str:
    matches = [u for u in container.inputs.get("uploads", []) if u["file"] == path]
    assert len(matches) == 1, f"{container.name}: expected one upload at {path}, found {len(matches)}"
    return matches[0]["content"]


def upload_index(container: Resource, path: str) -> int:
    for i, u in enumerate(container.inputs.get("uploads", [])):
        if u["file"] == path:
            return i
    raise AssertionError(f"{container.name}: no upload at {path}")


# -- kubernetes ----------------------------------------------------------------------
def k8s_objects(run: StackRun) -> list[Resource]:
    return [r for r in run.resources if r.type.startswith("kubernetes:")]


def k8s_kind(run: StackRun, kind: str) -> list[Resource]:
    return [r for r in k8s_objects(run) if r.inputs.get("kind") == kind]


def k8s_get(run: StackRun, kind: str, name: str) -> Resource:
    """The object of ``kind`` named ``name``: by its ``metadata.name``, or, when
    auto-named, by its Pulumi resource name or the name the mocked provider gave it."""
    matches = [r for r in k8s_kind(run, kind) if name in object_names(r)]
    assert len(matches) == 1, f"expected one {kind} named {name!r}, found {len(matches)}"
    return matches[0]


def object_names(r: Resource) -> tuple[str, ...]:
    if "name" in r.inputs["metadata"]:
        return (r.inputs["metadata"]["name"],)
    return (r.name, auto_name(r.name))


def k8s_workload(run: StackRun, name: str) -> Resource:
    """The StatefulSet or Deployment named ``name``."""
    matches = [r for r in k8s_objects(run) if r.inputs.get("kind") in ("StatefulSet", "Deployment") and r.inputs["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one StatefulSet/Deployment named {name!r}, found {len(matches)}"
    return matches[0]


def pod_spec(workload: Resource) -> dict[str, Any]:
    return workload.inputs["spec"]["template"]["spec"]


def main_container(workload: Resource) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload.name}: expected one container"
    return containers[0]


def k8s_file(run: StackRun, workload: Resource, path: str) -> tuple[str, Resource, str]:
    """(content, ConfigMap-or-Secret resource, data key) of the file the
    workload's container sees at ``path``, following mount -> volume -> object."""
    c = main_container(workload)
    mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == path]
    assert len(mounts) == 1, f"{workload.name}: expected one mount at {path}, found {mounts}"
    mount = mounts[0]
    volume = next(v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"])
    if "configMap" in volume:
        obj = k8s_get(run, "ConfigMap", volume["configMap"]["name"])
        data = obj.inputs.get("data", {})
        field = "data"
    elif "secret" in volume:
        obj = k8s_get(run, "Secret", volume["secret"]["secretName"])
        data = obj.inputs.get("stringData", {})
        field = "stringData"
    else:
        raise AssertionError(f"{workload.name}: {path} is not mounted from a ConfigMap or Secret: {volume}")
    key = mount.get("subPath")
    assert key in data, f"{workload.name}: {obj.name} has no key {key!r}"
    return data[key], obj, f"{field}.{key}"


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def statefulset_pods(workload: Resource) -> list[str]:
    name = workload.inputs["metadata"]["name"]
    return [f"{name}-{i}" for i in range(workload.inputs["spec"]["replicas"])]


def find(resources: list[Resource], name: str) -> Optional[Resource]:
    for r in resources:
        if r.name == name:
            return r
    return None


def live_file(run: StackRun, kind: str, workload: str, path: str) -> str:
    """A live file as every instance of ``workload`` reads it: never an upload
    or a subPath mount; Docker: the live volume (read-only) the writers fill
    from their uploads; Kubernetes: the fixed-name live ConfigMap mounted as
    a directory."""
    directory, key = path.rsplit("/", 1)
    if kind == "docker":
        writers = [run.named(f"{workload}-live-init"), run.named(f"{workload}-live-sync")]
        contents = {upload(w, path) for w in writers}
        assert len(contents) == 1, "both writers carry the same file"
        for c in containers_of(run, workload):
            assert all(u["file"] != path for u in c.inputs.get("uploads", [])), c.name
            assert {"volumeName": f"{workload}-live", "containerPath": directory, "readOnly": True} in c.inputs["volumes"], c.name
        return contents.pop()
    w = k8s_workload(run, workload)
    (mount,) = [m for m in main_container(w)["volumeMounts"] if m["mountPath"] == directory]
    assert "subPath" not in mount and mount["readOnly"] is True
    volume = next(v for v in pod_spec(w)["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == f"{workload}-live"
    return k8s_get(run, "ConfigMap", f"{workload}-live").inputs["data"][key]
