"""Deploy the real stack program with the real Pulumi engine (Automation API).

This is how the e2e tests deploy: the same ``infra/`` program and project as
``pulumi up`` in the checkout, the real CLI and provider plugins, a file
state backend. Each stack gets a work dir under one temporary root:

* ``Pulumi.yaml``: the project's, except that the runtime uses the Python
  that runs the tests (which has ``requirements-dev.txt``, and the package
  installed editable) instead of the checkout's ``.venv``;
* ``infra`` -> a symlink to the checkout's program;
* ``Pulumi.<stack>.yaml``: the stack's config, written by the test.

So a test never writes into the checkout, and every stack of a session shares
one backend, which is what a ``StackReference`` between them needs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import yaml
from pulumi import automation as auto

REPO = Path(__file__).resolve().parents[2]
PROJECT = "agentstream"
PASSPHRASE = "agentstream-e2e"


def log(msg: str) -> None:
    print(f"[real-stack] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def pulumi_cli() -> Optional[str]:
    return shutil.which("pulumi")


def shipped_config(stack: str) -> dict[str, Any]:
    """The ``config:`` map of the checkout's ``Pulumi.<stack>.yaml``."""
    with open(REPO / f"Pulumi.{stack}.yaml") as f:
        return dict((yaml.safe_load(f) or {}).get("config") or {})


class Backend:
    """One file state backend and the work dirs of the stacks that use it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.state = self.root / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # The policy pack prints its port without a flush; the offline
            # language host does not run plugins unbuffered (see scripts/lib.sh).
            "PYTHONUNBUFFERED": "1",
        }
        self.stacks: dict[str, RealStack] = {}

    def stack(
        self, name: str, config: dict[str, Any], secrets: Optional[dict[str, str]] = None, program: Optional[Path] = None
    ) -> "RealStack":
        """A stack of the project; ``program`` replaces ``infra/`` (a test's own
        program built from the Python API)."""
        s = RealStack(self, name, config, secrets or {}, program or REPO / "infra")
        self.stacks[name] = s
        return s

    def stack_ref(self, name: str) -> str:
        """What a StackReference to ``name`` in this backend looks like."""
        return f"organization/{PROJECT}/{name}"


def with_health_gates(names: list[str]) -> list[str]:
    """Container names and their Docker health gates' (``<name>-healthy``):
    a container replaced replaces its gate, which waits for the new one."""
    return [*names, *(f"{n}-healthy" for n in names)]


class RealStack:
    def __init__(self, backend: Backend, name: str, config: dict[str, Any], secrets: dict[str, str], program: Path):
        self.backend = backend
        self.name = name
        self.dir = backend.root / "projects" / name
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(REPO / "Pulumi.yaml") as f:
            project = yaml.safe_load(f)
        # The tests' own interpreter, not the checkout's .venv.
        project["runtime"] = {"name": "python", "options": {"toolchain": "pip"}}
        with open(self.dir / "Pulumi.yaml", "w") as f:
            yaml.safe_dump(project, f, sort_keys=False)
        link = self.dir / "infra"
        if not link.exists():
            link.symlink_to(program)
        self._write_config(config)
        self.stack = auto.create_or_select_stack(
            stack_name=name,
            work_dir=str(self.dir),
            opts=auto.LocalWorkspaceOptions(work_dir=str(self.dir), env_vars=backend.env),
        )
        for key, value in secrets.items():
            self.stack.set_config(key, auto.ConfigValue(value=value, secret=True))

    # -- config --------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.dir / f"Pulumi.{self.name}.yaml"

    def _write_config(self, config: dict[str, Any]) -> None:
        doc: dict[str, Any] = {}
        if self.config_path.exists():
            with open(self.config_path) as f:
                doc = yaml.safe_load(f) or {}
        # Keep the encryption salt and the secret values Pulumi wrote.
        kept = {k: v for k, v in (doc.get("config") or {}).items() if isinstance(v, dict) and set(v) == {"secure"}}
        doc["config"] = {**config, **kept}
        with open(self.config_path, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)

    def configure(self, config: dict[str, Any]) -> None:
        """Replace the stack's plain config (secrets stay)."""
        self._write_config(config)

    # -- operations ----------------------------------------------------------
    def _printer(self, op: str):
        prefix = f"[pulumi {op} {self.name}] "

        def out(line: str) -> None:
            line = line.rstrip("\n")
            if line.strip():
                print(prefix + line, file=sys.stderr, flush=True)

        return out

    def up(self, **kw) -> auto.UpResult:
        log(f"pulumi up {self.name}")
        start = time.time()
        res = self.stack.up(color="never", on_output=self._printer("up"), **kw)
        log(f"pulumi up {self.name}: {res.summary.result} in {time.time() - start:.1f}s {res.summary.resource_changes}")
        return res

    def preview(self, **kw) -> auto.PreviewResult:
        log(f"pulumi preview {self.name}")
        return self.stack.preview(color="never", on_output=self._printer("preview"), **kw)

    def plan(self, **kw) -> tuple[dict[str, str], auto.PreviewResult]:
        """A ``pulumi preview --diff``: the operation planned for each resource
        (by logical name, for those that change) and the preview itself."""
        ops: dict[str, str] = {}

        def on_event(e) -> None:
            pre = e.resource_pre_event
            if pre is not None and pre.metadata.op.value not in ("same", "read"):
                name = pre.metadata.urn.rsplit("::", 1)[-1]
                if "::pulumi:providers:pulumi-python::" in pre.metadata.urn:
                    # The dynamic providers' (the Docker health gates') default
                    # provider takes the whole stack config as its inputs, so
                    # any config change "updates" it; it creates nothing.
                    return
                # A replacement shows as replace plus its create/delete steps.
                if ops.get(name) != "replace":
                    ops[name] = pre.metadata.op.value
        res = self.preview(diff=True, on_event=on_event, **kw)
        log(f"preview {self.name}: {ops or 'no changes'}")
        return ops, res

    def refresh(self, **kw) -> auto.RefreshResult:
        log(f"pulumi refresh {self.name}")
        return self.stack.refresh(color="never", on_output=self._printer("refresh"), **kw)

    def refresh_ops(self, **kw) -> tuple[dict[str, str], auto.RefreshResult]:
        """A ``pulumi refresh``: what it changed in the state, by logical name
        (so a test can say which resources drifted, not only how many)."""
        ops: dict[str, str] = {}

        def on_event(e) -> None:
            for ev in (e.resource_pre_event, e.res_outputs_event):
                if ev is None:
                    continue
                op, name = ev.metadata.op.value, ev.metadata.urn.rsplit("::", 1)[-1]
                # A refresh step that found drift carries the changed keys.
                if op == "refresh" and ev.metadata.diffs:
                    ops[name] = "update"
                elif op not in ("same", "read", "refresh"):
                    ops[name] = op
        res = self.refresh(on_event=on_event, **kw)
        log(f"refresh {self.name}: {ops or 'no changes'}")
        return ops, res

    def destroy(self, **kw) -> auto.DestroyResult:
        log(f"pulumi destroy {self.name}")
        return self.stack.destroy(color="never", on_output=self._printer("destroy"), **kw)

    def outputs(self) -> dict[str, Any]:
        return {k: v.value for k, v in self.stack.outputs().items()}

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run the CLI itself in this stack's work dir (what a user types)."""
        env = {**os.environ, **self.backend.env}
        cmd = ["pulumi", *args, "--stack", self.name, "--non-interactive", "--color", "never"]
        log(" ".join(cmd))
        p = subprocess.run(cmd, cwd=self.dir, env=env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
        return p

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        """``pulumi stack export`` (with ``--show-secrets`` when asked)."""
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.cli(*args).stdout)

    def resource_states(self) -> list[dict[str, Any]]:
        return self.export()["deployment"].get("resources") or []
