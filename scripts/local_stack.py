"""Deploy or destroy a Docker stack without the Pulumi CLI.

Runs the stack program under the mock engine and creates its docker
resources on the local engine with tests/e2e/harness.py, using locally built
images of the pinned versions. Resource names are deterministic, so
``destroy`` re-runs the program to know what to remove.

    python3 scripts/local_stack.py up|destroy [stack]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import docker  # noqa: E402

from tests.e2e.conftest import LOCAL_IMAGES  # noqa: E402
from tests.e2e.harness import Deployment, log, materialize  # noqa: E402
from tests.support.stack_runner import load_stack_config, run_stack  # noqa: E402


def main(action: str, stack: str) -> int:
    cfg = load_stack_config(stack)
    if cfg.get("agentstream:target", "docker") != "docker":
        print(f"stack {stack!r} does not target docker; the local harness deploys docker stacks only", file=sys.stderr)
        return 2
    cfg["agentstream:images"] = {**LOCAL_IMAGES, **(cfg.get("agentstream:images") or {})}
    run = run_stack(stack, config=cfg)
    client = docker.from_env()
    if action == "up":
        materialize(run, client)
        log("stack is up; outputs:")
        for k in ("query_url", "remote_write_url", "external_remote_write_url", "fleets"):
            if k in run.outputs:
                print(f"  {k}: {run.outputs[k]}")
        return 0
    dep = Deployment(client)
    for r in run.resources:
        name = r.inputs.get("name")
        if r.type == "docker:index/container:Container":
            dep.containers.append(name)
        elif r.type == "docker:index/volume:Volume":
            dep.volumes.append(name)
        elif r.type == "docker:index/network:Network":
            dep.networks.append(name)
    dep.destroy()
    left = dep.leftovers()
    log("destroyed" if not left else f"left behind: {left}")
    return 1 if left else 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("up", "destroy"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "dev"))
