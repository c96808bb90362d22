"""A stand-in for the Pulumi engine's side of ``pulumi preview --policy-pack policy/``.

No Pulumi CLI is available here, so this module does the engine's part:

1. It starts the policy pack the way the CLI's Python language host does:
   ``python -u -m pulumi.policy <engine-address> <pack-dir>`` with the pack
   directory as working directory, reads the port the pack prints, and talks
   to it over gRPC with the SDK's own ``AnalyzerStub``. The pack answers with
   pulumi_policy's analyzer servicer, exactly as under the CLI.
2. It resolves the policy config like ``ReconcilePolicyPackConfig`` in
   pkg/resource/analyzer/config.go: schema defaults, then ``all``, then each
   policy's entry, validated against the policy's JSON schema; then it sends
   ``Configure`` with every policy's enforcement level and properties.
3. It sends ``Analyze`` for every resource (type, name, URN, parent, inputs)
   and one ``AnalyzeStack`` with all of them (plus their parents and
   dependencies), marshalled like the engine's ``MarshalProperties(...,
   KeepUnknowns, KeepSecrets)``: secrets as signature-tagged objects, unknowns
   as the unknown sentinel.

Resources come from the real stack program run under mocks
(``tests.support.stack_runner.run_stack``). ``preview_run`` additionally makes
the values a provider computes (random credentials, image ids) *unknown*, as
in the first ``pulumi preview`` of a fresh stack; the SDK then leaves
everything derived from them unknown too.

Differences from the engine, on purpose or by necessity: stack policies get
the resources' inputs (the engine sends outputs; under mocks outputs are
inputs plus mocked ids); no default provider resources are sent; the pack runs
with the system Python, not policy/venv.
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.support import stack_runner
from tests.support.stack_runner import PROJECT, REPO, SECRET_SIG, SIG_KEY, RunHooks, StackRun, auto_name

POLICY_DIR = os.path.join(REPO, "policy")
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown sentinel

LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


# -- resources as the engine sees them ---------------------------------------------------
@dataclass
class EngineResource:
    urn: str
    type: str
    name: str
    parent: Optional[str]
    props: dict[str, Any]            # wire form: secrets tagged, unknowns as the sentinel
    dependencies: list[str] = field(default_factory=list)
    custom: bool = True


def _wrap_secret(value: Any) -> dict:
    return {SIG_KEY: SECRET_SIG, "value": value}


def _rewrap(props: dict, path: str) -> None:
    """Mark the value at dotted ``path`` secret again (keys may contain dots)."""
    parts = path.split(".")
    node: Any = props
    i = 0
    while i < len(parts):
        # Find the longest key that matches the remaining parts.
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if isinstance(node, dict) and key in node:
                break
            if isinstance(node, list) and j == i + 1 and key.isdigit() and int(key) < len(node):
                break
        else:
            raise KeyError(f"secret path {path!r} not found")
        last = j == len(parts)
        index: Any = int(key) if isinstance(node, list) else key
        if last:
            node[index] = _wrap_secret(node[index])
            return
        node = node[index]
        i = j


def stack_urn(run: StackRun) -> str:
    for r in run.resources:
        if r.parent and "::pulumi:pulumi:Stack::" in r.parent:
            return r.parent
    return f"urn:pulumi:{run.stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{run.stack}"


def engine_resources(run: StackRun, raw: Optional[dict[str, dict]] = None) -> list[EngineResource]:
    """The stack's resources as the engine hands them to a policy pack.

    ``raw`` (URN -> the registration's property struct as JSON) is used when
    given; otherwise secrets are re-tagged from ``Resource.secret_paths``.
    """
    root = stack_urn(run)
    out = [EngineResource(root, "pulumi:pulumi:Stack", f"{PROJECT}-{run.stack}", None, copy.deepcopy(run.outputs), [], False)]
    for r in run.resources:
        if raw is not None and r.urn in raw:
            props = copy.deepcopy(raw[r.urn])
        else:
            props = copy.deepcopy(r.inputs)
            for path in sorted(r.secret_paths, key=len, reverse=True):
                _rewrap(props, path)
        if r.type.startswith("kubernetes:") and r.custom and isinstance(props.get("metadata"), dict):
            # The provider names auto-named objects in its Check (so the name
            # is known even in a first preview); stack policies see it.
            props["metadata"].setdefault("name", auto_name(r.name))
        out.append(EngineResource(r.urn, r.type, r.name, r.parent or root, props, list(r.depends_on), r.custom))
    return out


class _PreviewMocks(stack_runner._Mocks):
    """Provider-computed outputs are unknown, as in the first preview of a stack."""

    def new_resource(self, args):
        id_, state = super().new_resource(args)
        if args.typ.startswith("random:"):
            state["result"] = UNKNOWN
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = UNKNOWN
            state["repoDigest"] = UNKNOWN
        return id_, state


def preview_run(stack: str, **kwargs: Any) -> tuple[StackRun, list[EngineResource]]:
    """``run_stack(stack, preview=True)`` with unknowns, and the raw properties.

    The runner's hooks give it mocks that leave provider outputs unknown and a
    monitor that keeps each registration's property struct as sent.
    """
    captured: dict[str, dict] = {}

    class _RawMonitor(stack_runner._Monitor):
        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                captured[response.urn] = json_format.MessageToDict(request.object)
            return response

    hooks = RunHooks(mocks=_PreviewMocks, monitor=_RawMonitor)
    run = stack_runner.run_stack(stack, preview=True, hooks=hooks, **kwargs)
    missing = [r.urn for r in run.resources if r.urn not in captured]
    assert not missing, f"raw properties not captured for {missing[:3]}"
    return run, engine_resources(run, captured)


def known_run(stack: str, **kwargs: Any) -> tuple[StackRun, list[EngineResource]]:
    run = stack_runner.run_stack(stack, **kwargs)
    return run, engine_resources(run)


def find(resources: Iterable[EngineResource], name: str, type_: Optional[str] = None) -> EngineResource:
    matches = [r for r in resources if r.name == name and (type_ is None or r.type == type_)]
    assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
    return matches[0]


def unwrap(value: Any) -> Any:
    """The plain value of a wire-form property (secret tags removed)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


# -- results -------------------------------------------------------------------------------
@dataclass
class Diagnostic:
    policy: str
    level: str
    message: str
    urn: str


@dataclass
class Analysis:
    diagnostics: list[Diagnostic]
    not_applicable: list[tuple[str, str]]

    @property
    def mandatory(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "mandatory"]

    @property
    def advisory(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "advisory"]

    def of(self, policy: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.policy == policy]

    def policies(self, level: Optional[str] = None) -> set[str]:
        return {d.policy for d in self.diagnostics if level is None or d.level == level}

    def report(self) -> str:
        return "\n".join(f"[{d.level}] {d.policy} {d.urn.rsplit('::', 1)[-1] or '(stack)'}: {d.message}" for d in self.diagnostics)


class PolicyConfigError(ValueError):
    """The engine refuses to run: the policy config does not match a policy's schema."""


# -- the pack, over gRPC -----------------------------------------------------------------------
class PolicyPackProcess:
    """The policy pack running as the CLI runs it, and the engine's calls to it."""

    def __init__(self, policy_dir: str = POLICY_DIR, stack: str = "dev", dry_run: bool = True, timeout: float = 30):
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.update({"PULUMI_PROJECT": PROJECT, "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true" if dry_run else "false"})
        # The CLI's python host runs policy packs this way (cwd: the pack).
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", policy_dir],
            cwd=policy_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        line = self._read_port(timeout)
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def _read_port(self, timeout: float) -> str:
        result: dict[str, bytes] = {}
        reader = threading.Thread(target=lambda: result.setdefault("line", self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = result.get("line", b"").decode().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"policy pack did not start (stdout {line!r}):\n{self.stderr()}")
        return line

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def close(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()  # this process only: we started it
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc.stdout:
            self.proc.stdout.close()

    # -- engine calls --------------------------------------------------------------------
    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def plugin_info(self):
        return self.stub.GetPluginInfo(empty_pb2.Empty())

    def reconcile(self, config: Optional[dict[str, Any]] = None) -> dict[str, tuple[str, dict]]:
        """ReconcilePolicyPackConfig: policy -> (enforcement level, properties)."""
        info = self.info()
        result: dict[str, tuple[str, dict]] = {}
        schemas: dict[str, dict] = {}
        for p in info.policies:
            props = {}
            schema_props = {k: json_format.MessageToDict(v) for k, v in p.configSchema.properties.items()}
            for k, v in schema_props.items():
                if "default" in v:
                    props[k] = copy.deepcopy(v["default"])
            schemas[p.name] = {"type": "object", **({"properties": schema_props} if schema_props else {}),
                               **({"required": list(p.configSchema.required)} if p.configSchema.required else {})}
            result[p.name] = (LEVEL_NAMES[p.enforcementLevel], props)
        initial = {k: (LEVEL_NAMES[v.enforcementLevel], json_format.MessageToDict(v.properties))
                   for k, v in info.initialConfig.items()}
        for given in (initial, _parse_config(config or {})):
            if "all" in given and given["all"][0]:
                result = {k: (given["all"][0], v) for k, (_, v) in result.items()}
            for name, (level, props) in given.items():
                if name == "all":
                    continue
                old_level, old_props = result.get(name, (None, {}))
                result[name] = (level or old_level, {**old_props, **props})
        errors = []
        import jsonschema  # the engine validates with gojsonschema

        for name, schema in schemas.items():
            validator = jsonschema.Draft7Validator(schema)
            for e in validator.iter_errors(result[name][1]):
                errors.append(f"{name}: {e.message}")
        if errors:
            raise PolicyConfigError("; ".join(errors))
        return result

    def configure(self, config: Optional[dict[str, Any]] = None, stack: str = "dev", dry_run: bool = True) -> None:
        resolved = self.reconcile(config)
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project=PROJECT, organization="organization", dry_run=dry_run)
        )
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, props) in resolved.items():
            s = struct_pb2.Struct()
            s.update(props)
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[level], properties=s))
        self.stub.Configure(request)

    def analyze(
        self,
        resources: list[EngineResource],
        config: Optional[dict[str, Any]] = None,
        *,
        stack: Optional[str] = None,
        dry_run: bool = True,
    ) -> Analysis:
        """What ``pulumi preview --policy-pack policy/`` would report for these resources."""
        stack = stack or (resources[0].urn.split("::", 1)[0][len("urn:pulumi:"):] if resources else "dev")
        self.configure(config, stack=stack, dry_run=dry_run)
        diagnostics: list[Diagnostic] = []
        not_applicable: list[tuple[str, str]] = []

        def collect(response) -> None:
            for d in response.diagnostics:
                diagnostics.append(Diagnostic(d.policyName, LEVEL_NAMES[d.enforcementLevel], d.message, d.urn))
            not_applicable.extend((n.policy_name, n.reason) for n in response.not_applicable)

        stack_resources = []
        for r in resources:
            props = _struct(r.props)
            options = analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or "")
            response = self.stub.Analyze(
                analyzer_pb2.AnalyzeRequest(type=r.type, properties=props, urn=r.urn, name=r.name, options=options)
            )
            # Resource-level diagnostics belong to the resource analysed.
            for d in response.diagnostics:
                diagnostics.append(Diagnostic(d.policyName, LEVEL_NAMES[d.enforcementLevel], d.message, d.urn or r.urn))
            not_applicable.extend((n.policy_name, n.reason) for n in response.not_applicable)
            stack_resources.append(
                analyzer_pb2.AnalyzerResource(
                    type=r.type, properties=props, urn=r.urn, name=r.name, options=options,
                    parent=r.parent or "", dependencies=r.dependencies,
                )
            )
        collect(self.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=stack_resources)))
        return Analysis(diagnostics, not_applicable)


def _struct(props: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def _parse_config(config: dict[str, Any]) -> dict[str, tuple[Optional[str], dict]]:
    """parsePolicyPackConfig: ``{"policy": "mandatory" | {"enforcementLevel": ..., ...}}``."""
    out = {}
    for name, value in config.items():
        if isinstance(value, str):
            if value not in LEVELS:
                raise PolicyConfigError(f"parsing enforcement level for {name!r}: {value!r} is not a valid enforcement level")
            out[name] = (value, {})
        elif isinstance(value, dict):
            value = dict(value)
            level = value.pop("enforcementLevel", None)
            if level is not None and level not in LEVELS:
                raise PolicyConfigError(f"parsing enforcement level for {name!r}: {level!r} is not a valid enforcement level")
            out[name] = (level, value)
        else:
            raise PolicyConfigError(f"parsing {name!r}: {value!r} is not a valid value; must be a string or object")
    return out


@contextlib.contextmanager
def running_pack(**kwargs: Any):
    pack = PolicyPackProcess(**kwargs)
    try:
        yield pack
    finally:
        pack.close()
