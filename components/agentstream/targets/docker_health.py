"""A container's first passing health check, as a resource of its own.

Why not the docker provider's ``wait``: with it a container counts as
created only once it is healthy, so a dependency on the container is also a
wait for its health. Some dependencies need only the order: an agent starts
after receive and, on destroy, stops before it (so its last remote-write
flush is taken), but it can start while receive is still starting, remote
write retries. With ``wait`` the agents sat out receive's health check
(Docker 20.10 runs the first one a whole interval after the start), and
``pulumi up`` paid two health waits in a row (issue 11's P1).

So a container is created without ``wait`` and a :class:`ContainerHealthy`
beside it is created once Docker reports the container healthy. Dependents
choose: the container for an order, the gate for a workload that answers.
Every gate is in the graph, so ``pulumi up`` still returns only when every
container is healthy, and fails (naming the container, its state and its
last health check output) when one is not healthy within the timeout.

The gate's inputs are the container's id and name: a replaced container is a
new id, so its gate is replaced and waits again (a rolling update waits for
each instance). Otherwise the gate has no changes and ``pulumi refresh``
reads back what it stored, so a second ``up`` and a refresh show nothing.

Pulumi runs a dynamic provider in a separate Python process, from the
provider object pickled into the state. A class of an importable module is
pickled by reference, and the stack program's environment need not have
``agentstream`` installed (infra/ puts ``components/`` on ``sys.path``), so
the provider class is built in a function: dill pickles it by value. That
process needs only ``pulumi`` and ``docker`` (docker-py), both in
requirements.txt.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
from typing import Any, Iterator, Optional

import pulumi
import pulumi.dynamic
from pulumi.dynamic.dynamic import PROVIDER_KEY, serialize_provider

# The gate's properties; only these decide whether it changed.
INPUTS = ("container_id", "name", "host", "timeout")
POLL_SECONDS = 0.25


def _provider_class() -> Any:
    # Defined here, not at module level, so that dill pickles the class by
    # value (see the module docstring). It uses no function of this package
    # (one would be pickled by reference): modules are imported in its
    # methods, in the provider's process, and constants travel by value.
    class ContainerHealthyProvider(pulumi.dynamic.ResourceProvider):
        @staticmethod
        def report(state: dict[str, Any], tail: int = 3) -> str:
            """A container's state (``docker inspect``'s ``State``) in one
            line: its status, its health and its last checks' output."""
            health = state.get("Health") or {}
            parts = [f"state {state.get('Status', '?')}", f"health {health.get('Status', 'none')}"]
            if state.get("ExitCode"):
                parts.append(f"exit code {state['ExitCode']}")
            for entry in (health.get("Log") or [])[-tail:]:
                output = " ".join(str(entry.get("Output", "")).split())[:200]
                parts.append(f"check exit {entry.get('ExitCode')}: {output or '(no output)'}")
            return "; ".join(parts)

        def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
            import time

            import docker  # docker-py

            client = docker.DockerClient(base_url=props["host"]) if props.get("host") else docker.from_env()
            try:
                start = time.monotonic()
                while True:
                    state = client.api.inspect_container(props["container_id"])["State"]
                    if (state.get("Health") or {}).get("Status") == "healthy":
                        break
                    if time.monotonic() - start > float(props["timeout"]):
                        raise RuntimeError(
                            f"container {props['name']} is not healthy after {float(props['timeout']):g}s: "
                            f"{self.report(state)}; see `docker logs {props['name']}`"
                        )
                    time.sleep(POLL_SECONDS)
            finally:
                client.close()  # type: ignore[no-untyped-call]  # untyped in types-docker
            return pulumi.dynamic.CreateResult(id_=props["container_id"], outs={k: props.get(k) for k in INPUTS})

        def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
            changed = [k for k in INPUTS if olds.get(k) != news.get(k)]
            # Any change is a new wait: a replacement.
            return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

        def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
            # A refresh reads back what the gate stored: it records a past
            # event (the first passing check), not the container's health now.
            return pulumi.dynamic.ReadResult(id_=id_, outs={k: props.get(k) for k in INPUTS})

    return ContainerHealthyProvider


health_report = _provider_class().report


class ContainerHealthy(pulumi.dynamic.Resource, module="agentstream", name="ContainerHealthy"):
    """Created once ``container`` first reports healthy (within ``timeout``
    seconds, or ``pulumi up`` fails)."""

    def __init__(
        self,
        name: str,
        container_id: pulumi.Input[str],
        container_name: pulumi.Input[str],
        timeout: int,
        host: Optional[str] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        props = {"container_id": container_id, "name": container_name, "host": host, "timeout": timeout}
        # What pulumi.dynamic.Resource.__init__ does, with the provider
        # pickled once per process instead of once per gate: dill pickles
        # the class by value, about 60k pickler calls each time, and a
        # program with hundreds of gates spent most of its time there
        # (issue 11's P5). The bytes are the same either way: the SDK sorts
        # what it pickles so that an unchanged provider shows no diff.
        props[PROVIDER_KEY] = serialized_provider()
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)


@functools.lru_cache(maxsize=None)
def serialized_provider() -> str:
    """The gate's provider as the SDK stores it (``__provider``): plain,
    since it captures nothing secret (no ciphertext per gate)."""
    with _pickler_restored():
        serialized: str = serialize_provider(_provider_class()())
    return serialized


def engine_container_names(host: Optional[str]) -> frozenset[str]:
    """Every container name the Docker engine at ``host`` has, running or
    not (``docker ps -a``). ``host`` None: the environment's engine
    (``DOCKER_HOST`` or the local socket), as the provider reads it."""
    import docker  # docker-py

    client = docker.DockerClient(base_url=host) if host else docker.from_env()
    try:
        return frozenset(n.lstrip("/") for c in client.api.containers(all=True) for n in c.get("Names") or [])
    finally:
        client.close()  # type: ignore[no-untyped-call]  # untyped in types-docker


@contextlib.contextmanager
def _pickler_restored() -> Iterator[None]:
    """Undo what the SDK's ``serialize_provider`` leaves patched.

    It wraps ``pickle._Pickler._batch_setitems`` (to sort dict items) and
    restores ``pickle.Pickler`` but not that method, so every dynamic
    resource wraps the wrapper of the one before: one more stack frame per
    resource pickled, and a program with some hundreds of gates (or a test
    process registering many programs) ends in ``RecursionError``
    (pulumi 3.272; pulumi/pulumi#17803 reports the symptom).
    """
    saved = {k: pickle._Pickler.__dict__[k] for k in ("_batch_setitems", "save_dict")}
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(pickle._Pickler, k, v)
