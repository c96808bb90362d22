"""P1, deploy: the real `pulumi up` of the dev stack against a plain shell of
`docker` commands that creates the same containers, both until every
container is healthy.

The shell is generated from what the stack program registers (under the
mock engine), so both sides run the same images, command lines, uploads,
volumes, network aliases and health checks. It is the fastest a hand-written
script could be: one-shot volume inits in the foreground, then every server
created and started without waiting, then one wait until all are healthy.
`pulumi up` is done when the provider has seen each container healthy.

Interleaved repetitions (pulumi, shell, pulumi, shell, ...), each from
nothing (destroyed and cleaned between runs, images kept); medians and the
ratio go into bench/RESULTS.md (section P1) and bench/p1_deploy.png.

    python3 bench/bench_deploy.py [--rounds 3] [--no-write]

Needs the Pulumi CLI on PATH (eval "$(bash scripts/e2e-setup.sh)"), a Docker
engine and the pinned images (bash scripts/images.sh).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # noqa: E402

from tests.support.real_stack import Backend, shipped_config  # noqa: E402
from tests.support.stack_runner import run_stack  # noqa: E402

HERE = Path(__file__).resolve().parent
PART_OF = "app.kubernetes.io/part-of=agentstream"


def log(msg: str) -> None:
    print(f"[bench-deploy] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# -- the docker shell ---------------------------------------------------------
def _labels(items) -> list[str]:
    return [f"--label={i['label']}={i['value']}" for i in items or []]


def docker_shell(run, workdir: Path) -> str:
    """A bash script of docker commands for the stack's docker resources."""
    lines = ["set -euo pipefail"]
    for r in run.resources:
        i = r.inputs
        if r.type == "docker:index/network:Network":
            lines.append(shlex.join(["docker", "network", "create", *_labels(i.get("labels")), i["name"]]) + " >/dev/null")
        elif r.type == "docker:index/volume:Volume":
            lines.append(shlex.join(["docker", "volume", "create", *_labels(i.get("labels")), i["name"]]) + " >/dev/null")
        elif r.type == "docker:index/container:Container":
            # The mock engine's image id is the RemoteImage's name (see stack_runner).
            image = i["image"]
            entry = i.get("entrypoints") or []
            args = list(entry[1:]) + list(i.get("command") or [])
            opts = ["--name", i["name"]]
            if entry:
                opts.append(f"--entrypoint={entry[0]}")
            if i.get("user"):
                opts.append(f"--user={i['user']}")
            for v in i.get("volumes") or []:
                opts.append(f"--volume={v['volumeName']}:{v['containerPath']}")
            opts += _labels(i.get("labels"))
            if not i.get("mustRun", True):
                lines.append(shlex.join(["docker", "run", "--rm", *opts, image, *args]) + " >/dev/null")
                continue
            if i.get("hostname"):
                opts.append(f"--hostname={i['hostname']}")
            for e in i.get("envs") or []:
                opts.append(f"--env={e}")
            for n in i.get("networksAdvanced") or []:
                opts.append(f"--network={n['name']}")
                opts += [f"--network-alias={a}" for a in n.get("aliases") or []]
            for p in i.get("ports") or []:
                opts.append(f"--publish={p.get('ip', '0.0.0.0')}:{p['external']}:{p['internal']}")
            if i.get("restart"):
                opts.append(f"--restart={i['restart']}")
            hc = i.get("healthcheck")
            if hc:
                tests = hc["tests"]
                opts += [f"--health-cmd={shlex.join(tests[1:])}", f"--health-interval={hc['interval']}",
                         f"--health-timeout={hc['timeout']}", f"--health-retries={hc['retries']}",
                         f"--health-start-period={hc['startPeriod']}"]
            lines.append(shlex.join(["docker", "create", *opts, image, *args]) + " >/dev/null")
            uploads = i.get("uploads") or []
            if uploads:
                tar = workdir / f"{i['name']}.tar"
                with tarfile.open(tar, "w") as t:
                    for u in uploads:
                        data = u["content"].encode()
                        info = tarfile.TarInfo(u["file"].lstrip("/"))
                        info.size, info.mode = len(data), 0o644
                        t.addfile(info, io.BytesIO(data))
                lines.append(f"docker cp - {shlex.quote(i['name'])}:/ < {shlex.quote(str(tar))}")
            lines.append(shlex.join(["docker", "start", i["name"]]) + " >/dev/null")
    return "\n".join(lines) + "\n"


def wait_healthy(client, names: list[str], timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = {}
        for c in client.api.containers(all=True, filters={"label": PART_OF}):
            states[c["Names"][0].lstrip("/")] = c["Status"]
        if all("(healthy)" in states.get(n, "") for n in names):
            return
        time.sleep(0.25)
    raise RuntimeError(f"not healthy after {timeout}s: {[n for n in names if '(healthy)' not in states.get(n, '')]}")


def clean(client) -> None:
    for c in client.containers.list(all=True, filters={"label": PART_OF}):
        c.remove(force=True, v=True)
    for v in client.volumes.list(filters={"label": PART_OF}):
        v.remove(force=True)
    for n in client.networks.list(filters={"label": PART_OF}):
        n.remove()


# -- the runs ------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print the results only")
    args = ap.parse_args()

    client = docker.from_env()
    if client.containers.list(all=True, filters={"label": PART_OF}):
        log("containers labelled part-of=agentstream exist; destroy that stack first (bash scripts/up.sh --destroy)")
        return 2
    config = shipped_config("dev")
    run = run_stack("dev", config=config)
    servers = [r.inputs["name"] for r in run.resources
               if r.type == "docker:index/container:Container" and r.inputs.get("mustRun", True)]
    root = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    script = root / "deploy.sh"
    script.write_text(docker_shell(run, root))
    log(f"{len(servers)} containers; shell at {script}")

    backend = Backend(root / "pulumi")
    stack = backend.stack("bench-dev", config)
    times: dict[str, list[float]] = {"pulumi up": [], "docker shell": []}
    try:
        for rnd in range(1, args.rounds + 1):
            log(f"round {rnd}/{args.rounds}: pulumi up")
            t0 = time.perf_counter()
            res = stack.stack.up(color="never")
            times["pulumi up"].append(time.perf_counter() - t0)
            assert res.summary.result == "succeeded"
            wait_healthy(client, servers, timeout=5)  # already healthy: the provider waited
            stack.stack.destroy(color="never")
            clean(client)

            log(f"round {rnd}/{args.rounds}: docker shell")
            t0 = time.perf_counter()
            subprocess.run(["bash", str(script)], check=True)
            wait_healthy(client, servers)
            times["docker shell"].append(time.perf_counter() - t0)
            clean(client)
            log(f"round {rnd}: pulumi {times['pulumi up'][-1]:.1f}s, shell {times['docker shell'][-1]:.1f}s")
    finally:
        try:
            stack.stack.destroy(color="never")
        except Exception:  # noqa: BLE001
            pass
        clean(client)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["pulumi up"] / med["docker shell"]
    cmd = f"python3 bench/bench_deploy.py --rounds {args.rounds}"
    rows = "\n".join(
        f"| {k} | {med[k]:.1f} s | {min(v):.1f} s | {max(v):.1f} s | {', '.join(f'{x:.1f}' for x in v)} |"
        for k, v in times.items()
    )
    section = f"""<!-- P1 begin -->
## P1: deploy, real `pulumi up` against a plain docker shell

`{cmd}`, {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Pulumi CLI
`{subprocess.run(['pulumi', 'version'], capture_output=True, text=True).stdout.strip()}`, Docker engine
{client.version()['Version']}. The dev stack ({len(servers)} containers, {len(run.resources)} resources) from
nothing to every container healthy; rounds interleaved, images present locally.

| case | median | min | max | rounds |
|---|---:|---:|---:|---|
{rows}

Ratio `pulumi up` / docker shell: **{ratio:.2f}x**.

![P1](p1_deploy.png)

Where the difference goes: the engine and plugins start (the Python program, the docker
provider), the provider creates each container, uploads its files and waits for it to be
healthy before the resources that depend on it; instances of one workload are chained (each
waits for the one before it, so a replacement rolls one at a time). The shell starts
everything at once and waits once.
<!-- P1 end -->
"""
    print(section)
    if not args.no_write:
        results = HERE / "RESULTS.md"
        text = results.read_text() if results.exists() else "# Benchmark results\n"
        if "<!-- P1 begin -->" in text:
            head, rest = text.split("<!-- P1 begin -->", 1)
            text = head + section.strip() + rest.split("<!-- P1 end -->", 1)[1]
        else:
            text = text.rstrip() + "\n\n" + section
        results.write_text(text)
        plot(times, ratio, HERE / "p1_deploy.png")
        log(f"wrote {results} and {HERE / 'p1_deploy.png'}")
    return 0


def plot(times: dict[str, list[float]], ratio: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    names = list(times)
    meds = [statistics.median(times[n]) for n in names]
    ax.barh(names, meds, color=["#4c72b0", "#999999"])
    for y, n in enumerate(names):
        ax.plot(times[n], [y] * len(times[n]), "k.", markersize=6)
    ax.set_xlabel("seconds to all containers healthy (bars: median, dots: rounds)")
    ax.set_title(f"P1 deploy of the dev stack: ratio {ratio:.2f}x")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
