"""Run the real stack program (``infra/``) under the Pulumi SDK's mock engine.

This is how the unit and policy tests (and the real-config checks of
``tests/e2e/test_real_configs.py``) see "what ``pulumi up`` would register",
fast and without the CLI or provider plugins. Deployments go through the real
engine (``tests/support/real_stack.py``); this only proves the graph.

Each run happens in a fresh thread, so the SDK's context-local settings (root
stack, config, mocks) start clean every time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import runpy
import secrets
import string
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Container, Optional

import yaml

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.sync_await import _sync_await

from agentstream.targets import docker as docker_target

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROJECT = "agentstream"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
# Seconds a mocked run may take before it is reported as hung.
RUN_TIMEOUT = float(os.environ.get("AGENTSTREAM_STACK_RUN_TIMEOUT", "120"))


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    inputs: dict[str, Any]                  # secrets unwrapped
    secret_paths: set[str] = field(default_factory=set)  # dotted paths of secret values
    depends_on: list[str] = field(default_factory=list)
    id: Optional[str] = None
    delete_before_replace: bool = False

    def is_secret(self, prop: str) -> bool:
        """True if ``prop`` (a dotted path) is secret, holds a secret, or sits inside one."""
        return any(p == prop or p.startswith(prop + ".") or prop.startswith(p + ".") for p in self.secret_paths)


@dataclass
class StackRun:
    stack: str
    config: dict[str, Any]
    resources: list[Resource]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)  # names of exports that are secret
    reads: list[Resource] = field(default_factory=list)  # resources read, not registered (StackReference)
    # What the mocked random provider generated: fresh on every run, so
    # anything compared across runs (golden files) must not contain them.
    random_values: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def children(self, parent: "Resource | str") -> list[Resource]:
        """Resources whose parent is ``parent`` (a Resource or a URN)."""
        urn = parent.urn if isinstance(parent, Resource) else parent
        return [r for r in self.resources if r.parent == urn]


def load_stack_config(stack: str) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml``."""
    with open(os.path.join(REPO, f"Pulumi.{stack}.yaml")) as f:
        return (yaml.safe_load(f) or {}).get("config", {}) or {}


def shipped_stacks() -> list[str]:
    return sorted(n[len("Pulumi."):-len(".yaml")] for n in os.listdir(REPO) if n.startswith("Pulumi.") and n.endswith(".yaml") and n != "Pulumi.yaml")


def _secret_paths(value: Any, path: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return {path}
        for k, v in value.items():
            found |= _secret_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found |= _secret_paths(v, f"{path}.{i}" if path else str(i))
    return found


def _random_value(inputs: dict[str, Any]) -> str:
    alphabet = ""
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("numeric", inputs.get("number", True)):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += "!#$%&*()-_=+[]{}<>:?"
    return "".join(secrets.choice(alphabet) for _ in range(int(inputs.get("length", 16))))


def auto_name(resource_name: str) -> str:
    """The name the mocked provider gives an object registered without ``metadata.name``."""
    return f"{resource_name}-{hashlib.sha256(resource_name.encode()).hexdigest()[:8]}"


class _Mocks(pulumi.runtime.Mocks):
    """Provider behaviour, just enough to wire outputs to inputs."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]], docker_containers: Optional[frozenset[str]] = None):
        self.stack_outputs = stack_outputs
        self.random_values: set[str] = set()
        # The containers the mocked Docker engine has: None, every one asked
        # about (the stack runs already: what an update sees); a set, only
        # those (frozenset(): a first deployment).
        self.docker_containers = docker_containers

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        t = args.typ
        if t in ("random:index/randomString:RandomString", "random:index/randomPassword:RandomPassword"):
            state["result"] = _random_value(args.inputs)
            self.random_values.add(state["result"])
        elif t == "docker:index/remoteImage:RemoteImage":
            # Images by reference (bench_deploy.py runs them so); a real provider returns
            # the image's sha256 id, which docker accepts the same way.
            state["imageId"] = args.inputs["name"]
            state["repoDigest"] = args.inputs["name"]
        elif t == "pulumi:pulumi:StackReference":
            name = args.inputs.get("name") or args.name
            if name not in self.stack_outputs:
                raise ValueError(f"no outputs mocked for StackReference {name!r}")
            state["outputs"] = self.stack_outputs[name]
            state["secretOutputNames"] = []
        elif t.startswith("kubernetes:"):
            meta = dict(state.get("metadata") or {})
            if "name" not in meta:
                # Auto-naming as the provider does it (name plus a random
                # suffix), deterministic here: code that guesses an
                # auto-named object's name instead of using its output fails.
                meta["name"] = auto_name(args.name)
            state["metadata"] = meta
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def docker_engine_containers(self, host: Optional[str]) -> Container[str]:
        """What the Docker target's engine query answers under the mocks
        (it asks the engine with docker-py, not through the provider)."""
        return docker_target.EVERY_NAME if self.docker_containers is None else self.docker_containers


def docker_engine_with(containers: frozenset[str] = frozenset()) -> "RunHooks":
    """Hooks whose mocked Docker engine has only ``containers`` (none: a
    first deployment on a fresh engine)."""
    return RunHooks(mocks=lambda stack_outputs: _Mocks(stack_outputs, docker_containers=containers))


class _Monitor(pulumi_mocks.MockMonitor):
    """Records every registration with its raw (secret-marked) inputs."""

    def __init__(self, mocks):
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        self.reads: list[Resource] = []

    def ReadResource(self, request):
        response = super().ReadResource(request)
        raw = json_format.MessageToDict(request.properties, preserving_proto_field_name=True)
        self.reads.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=True,
                inputs=_plain(pulumi.runtime.rpc.deserialize_properties(request.properties)),
                secret_paths=_secret_paths(raw),
                depends_on=list(request.dependencies),
                id=request.id or None,
            )
        )
        return response

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
        self.recorded.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=_plain(inputs),
                secret_paths=_secret_paths(raw),
                depends_on=list(request.dependencies),
                id=response.id or None,
                delete_before_replace=bool(request.deleteBeforeReplace),
            )
        )
        return response


@dataclass(frozen=True)
class RunHooks:
    """How a run builds its mock engine, for callers that need other behaviour.

    ``mocks(stack_outputs)`` makes the provider mocks (:class:`_Mocks` or a
    subclass); ``monitor(mocks)`` makes the resource monitor that records the
    registrations (:class:`_Monitor` or a subclass: it must keep ``recorded``
    and ``reads``). ``tests/policy/engine.py`` passes subclasses that leave
    provider outputs unknown and capture the raw registrations.
    """

    mocks: Callable[[dict[str, dict[str, Any]]], _Mocks] = _Mocks
    monitor: Callable[[_Mocks], _Monitor] = _Monitor


DEFAULT_HOOKS = RunHooks()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    # Protobuf Structs carry every number as a double; give integers back.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _config_strings(config: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict) and set(v) == {"secure"}:
            raise ValueError(f"{k}: encrypted config cannot be read in tests; pass plaintext")
        out[k] = v if isinstance(v, str) else json.dumps(v)
    return out


TEST_REMOTE_WRITE_SECRET = "test-remote-write-password-4f9a"


def run_stack(
    stack: str = "dev",
    config: Optional[dict[str, Any]] = None,
    *,
    overrides: Optional[dict[str, Any]] = None,
    stack_outputs: Optional[dict[str, dict[str, Any]]] = None,
    preview: bool = False,
    hooks: RunHooks = DEFAULT_HOOKS,
) -> StackRun:
    """Run ``infra/__main__.py`` for a stack; return what it registered.

    ``config`` replaces the stack file's config; ``overrides`` is merged on
    top of it (key by key). ``hooks`` changes the mock engine (:class:`RunHooks`).
    Exceptions from the program propagate.
    """
    cfg = dict(load_stack_config(stack) if config is None else config)
    # What `pulumi config set --secret agentstream:remoteWriteSecret` gives a
    # stack file whose fleets authenticate (the shipped edges); secrets are
    # never in a stack file. Only while the fleets still authenticate after
    # the overrides, so an override can drop auth (or add it without one).
    def authenticates(c):
        return any(isinstance(f, dict) and "remoteWriteAuth" in f for f in c.get("agentstream:fleets") or [])

    had_auth = authenticates(cfg)
    cfg.update(overrides or {})
    if had_auth and authenticates(cfg):
        cfg.setdefault("agentstream:remoteWriteSecret", TEST_REMOTE_WRITE_SECRET)
    if stack_outputs is None:
        stack_outputs = {}
        if "agentstream:centralStack" in cfg:
            central = cfg["agentstream:centralStack"]
            stack_outputs[central] = {
                "remote_write_url": "http://central-receive.agentstream.svc.cluster.local:19291/api/v1/receive",
                "external_remote_write_url": "https://receive.wayne-enterprises.example/api/v1/receive",
                "query_url": "http://central-query.agentstream.svc.cluster.local:10902",
            }
    return _run(stack, cfg, stack_outputs, preview, hooks,
                lambda: runpy.run_path(os.path.join(REPO, "infra", "__main__.py"), run_name="__main__"))


def run_program(
    program: Callable[[], Any],
    *,
    stack: str = "unit",
    config: Optional[dict[str, Any]] = None,
    stack_outputs: Optional[dict[str, dict[str, Any]]] = None,
    preview: bool = False,
    hooks: RunHooks = DEFAULT_HOOKS,
) -> StackRun:
    """Run ``program`` (a Pulumi program as a function) under the same mocks.

    For testing components directly: build a target and components inside
    ``program``; ``pulumi.export`` what you want back in ``.outputs``.
    Exceptions propagate, with what was registered before them in
    ``.recorded``.
    """
    return _run(stack, dict(config or {}), dict(stack_outputs or {}), preview, hooks, program)


def _run(
    stack: str,
    cfg: dict[str, Any],
    stack_outputs: dict[str, dict[str, Any]],
    preview: bool,
    hooks: RunHooks,
    program: Callable[[], Any],
) -> StackRun:
    result: dict[str, Any] = {}

    def body() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        monitor = hooks.monitor(hooks.mocks(stack_outputs))
        pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
        secret_keys = [k for k in cfg if k.endswith((":objstoreConfig", ":remoteWriteSecret"))]
        pulumi.runtime.set_all_config(_config_strings(cfg), secret_keys)
        # The Docker target asks the engine for its containers (docker-py);
        # under the mocks, the mocked engine answers.
        saved_query = docker_target.engine_container_names
        docker_target.engine_container_names = monitor.mocks.docker_engine_containers
        try:
            _sync_await(pulumi.runtime.stack.run_pulumi_func(program))
            root = pulumi.runtime.settings.get_root_resource()
            outputs = {}
            secret_outputs = set()
            for k, v in (getattr(root, "outputs", {}) or {}).items():
                out = pulumi.Output.from_input(v)
                outputs[k] = _sync_await(out.future())
                if _sync_await(out.is_secret()):
                    secret_outputs.add(k)
            result["run"] = StackRun(
                stack, cfg, monitor.recorded, outputs, secret_outputs, monitor.reads, monitor.mocks.random_values
            )
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = e
            result["recorded"] = monitor.recorded
        finally:
            docker_target.engine_container_names = saved_query

    t = threading.Thread(target=body, name=f"stack-{stack}", daemon=True)
    t.start()
    t.join(RUN_TIMEOUT)
    if t.is_alive():
        # A mocked run takes about a second; a hang is almost always an Output
        # created outside the program (bound to another thread's event loop).
        raise TimeoutError(
            f"stack {stack!r}: the program did not finish within {RUN_TIMEOUT:.0f}s "
            "(an Output created outside the program function?)"
        )
    if "error" in result:
        err = result["error"]
        err.recorded = result.get("recorded", [])  # type: ignore[attr-defined]
        raise err
    return result["run"]


if __name__ == "__main__":  # quick look: python -m tests.support.stack_runner dev
    run = run_stack(sys.argv[1] if len(sys.argv) > 1 else "dev")
    for r in run.resources:
        print(r.type, r.name, sorted(r.secret_paths))
    print(json.dumps(run.outputs, indent=2, default=str))
