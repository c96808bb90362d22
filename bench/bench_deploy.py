"""P1, deploy: the real `pulumi up` of the dev stack against a plain shell of
`docker` commands that creates the same containers, both until every
container is healthy.

The shell is generated from what the stack program registers (under the
mock engine), so both sides run the same images, command lines, uploads,
volumes, network aliases and health checks. It is the fastest a hand-written
script could be: one-shot volume inits (and the hashring seed) in the
foreground, then every server created and started without waiting (one-shots
that follow the servers, like the hashring sync, started in the background),
then one wait until all are healthy.
`pulumi up` is done when the provider has seen each container healthy.

Interleaved repetitions (pulumi, shell, pulumi, shell, ...), each from
nothing (destroyed and cleaned between runs, images kept); medians and the
ratio go into bench/RESULTS.md (section P1) and bench/p1_deploy.png. The dev
stack's names and ports are shared with other users of the machine: the run
holds /tmp/agentstream-dev-stack.lock, refuses to start if the dev stack's
containers exist, and cleans up only its own containers, volumes and network
(by name).

    python3 bench/bench_deploy.py [--rounds 3] [--no-write] [--out-dir bench]

Needs the Pulumi CLI on PATH (eval "$(bash scripts/e2e-setup.sh)"), a Docker
engine and the pinned images (bash scripts/images.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
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
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker  # noqa: E402

from common import DEV_STACK_LOCK, BenchError, header, load_average, rmtree, write_section  # noqa: E402

from tests.support.real_stack import Backend, shipped_config  # noqa: E402
from tests.support.stack_runner import run_stack  # noqa: E402

HERE = Path(__file__).resolve().parent
PART_OF = "app.kubernetes.io/part-of=agentstream"
# Kept with every rewrite of the section; the figures in it are the
# 2026-12-07 run's (the table above it is each run's own).
ANALYSIS = """What `pulumi up` orders, and why (the table shows it). Docker 20.10 runs a container's first
health check one 5 s interval after the start (no `--health-start-interval` before Docker 25).
The containers are created without the docker provider's `wait`; beside each one a health gate
(`<container>-healthy`, `agentstream/targets/docker_health.py`, polling `docker inspect` every
0.25 s) is created once the container first passes its check, and `pulumi up` returns only when
every gate has. A dependent waits for a gate when it needs the other workload answering, for the
container when it needs only an order. Three orders remain on the first deployment: the store
gateway and the compactor wait for the object store's gate (they read the bucket as they start);
the agents wait for the receivers' containers (not their health: remote write retries), so that
on destroy they stop first and their last remote-write flush is taken (Prometheus waits up to
its stop grace for it otherwise); the live-file sync writers wait for what their file names. So
`pulumi up` pays one health wait after another only on the object store's path (the object store
healthy at ~11 s, store and compactor at ~17.5 s), plus about 5 s before the first container
starts (engine, program, providers; the docker provider takes 2 s to create a network). The
shell creates and starts everything in one pass and waits once.

What no longer costs time (issue 11, measured 3.88x on 2026-12-02 with 73.3 s against 18.9 s):
- instances of one workload were chained (receive-0 -> -1 -> -2, agent-0 -> -1) so that a
  *replacement* rolls one healthy instance at a time. The chain stays once a workload runs, but a
  workload none of whose instances exist starts them together (like a StatefulSet's `Parallel`
  policy): the program asks the engine, through the provider (`DockerTarget._running`);
- receive waited for the object store; it needs the bucket only for its first block (2h in) and
  retries uploads from its volume (the fault suite's R3), so it no longer does;
- the agents waited for the ring's one-shot writers too, and the live-file sync writers for every
  instance; on a first deployment neither order is needed;
- the agents waited for the receivers' health (1.31x on 2026-12-07, 22.5 s against 17.2 s:
  receivers healthy at ~11 s, agents started at ~14 s and healthy at ~19 s): with the provider's
  `wait`, a dependency on a container was a dependency on its health. The health gates split the
  order from the wait.

`tests/e2e/test_lifecycle.py` checks both halves for real: the first `pulumi up` starts each
workload's instances within one health interval of each other, and a later change still rolls
the receivers with at least one interval between their starts and never fewer than 2 of 3
running."""


def log(msg: str) -> None:
    print(f"[bench-deploy] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# -- the docker shell ---------------------------------------------------------
def _labels(items) -> list[str]:
    return [f"--label={i['label']}={i['value']}" for i in items or []]


def docker_shell(run, workdir: Path) -> str:
    """A bash script of docker commands for the stack's docker resources."""
    lines = ["set -euo pipefail"]
    # Volumes each server mounts, by URN.
    servers = {r.urn: {v["volumeName"] for v in r.inputs.get("volumes") or []} for r in run.resources
               if r.type == "docker:index/container:Container" and r.inputs.get("mustRun", True)}
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
            one_shot = not i.get("mustRun", True)
            if i.get("hostname") and not one_shot:
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
            mine = {v["volumeName"] for v in i.get("volumes") or []}
            if one_shot and not any(mine & servers.get(d, set()) for d in r.depends_on):
                # A one-shot the servers need (volume ownership, the seeded
                # hashring): run it to completion first, as the provider does.
                lines.append(shlex.join(["docker", "start", "--attach", i["name"]]) + " >/dev/null")
                lines.append(shlex.join(["docker", "rm", "--volumes", i["name"]]) + " >/dev/null")
            else:
                # Servers, and one-shots that write into a volume of servers
                # they follow (the hashring sync; nothing waits for it).
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


def docker_time(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as epoch seconds."""
    from datetime import datetime, timezone

    base, _, frac = text.rstrip("Z").partition(".")
    whole = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return whole + (float("0." + frac) if frac else 0.0)


def timeline(client, names: list[str], t0: float) -> dict[str, tuple[float, Optional[float]]]:
    """Per server: seconds from ``t0`` (the deploy's start, this machine's
    clock, which Docker shares) to its start and to its first passing
    health check (Docker keeps the last five results; the first pass is
    among them right after a deploy)."""
    out: dict[str, tuple[float, Optional[float]]] = {}
    for n in names:
        state = client.api.inspect_container(n)["State"]
        passed = [docker_time(r["End"]) for r in (state.get("Health") or {}).get("Log") or [] if r["ExitCode"] == 0]
        out[n] = (docker_time(state["StartedAt"]) - t0, (min(passed) - t0) if passed else None)
    return out


def timeline_table(lines: dict[str, list[dict[str, tuple[float, Optional[float]]]]]) -> str:
    """Medians over the rounds, per server, of both cases side by side, in order of start under `pulumi up`."""
    cases = list(lines)

    def med(case: str, n: str, i: int) -> Optional[float]:
        vals = [r[n][i] for r in lines[case] if r.get(n) and r[n][i] is not None]
        return statistics.median(vals) if vals else None

    def fmt(v: Optional[float]) -> str:
        return "-" if v is None else f"{v:.1f}"

    names = sorted(lines[cases[0]][0], key=lambda n: med(cases[0], n, 0) or 0.0)
    head = "| container | " + " | ".join(f"{c}: started | {c}: healthy" for c in cases) + " |"
    rule = "|---|" + "---:|---:|" * len(cases)
    rows = ["| " + n + " | " + " | ".join(f"{fmt(med(c, n, 0))} | {fmt(med(c, n, 1))}" for c in cases) + " |" for n in names]
    return "\n".join([head, rule, *rows])


def clean(client, run) -> None:
    """Remove this stack's containers, volumes and network, by name: other
    stacks on the engine carry the same part-of label and are not ours."""
    names = {r.type: set() for r in run.resources}
    for r in run.resources:
        if r.inputs.get("name"):
            names[r.type].add(r.inputs["name"])
    for n in names.get("docker:index/container:Container", ()):
        try:
            client.containers.get(n).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    for n in names.get("docker:index/volume:Volume", ()):
        try:
            client.volumes.get(n).remove(force=True)
        except docker.errors.NotFound:
            pass
    for n in names.get("docker:index/network:Network", ()):
        for net in client.networks.list(names=[n]):
            if net.name == n:
                net.remove()


def existing(client, run) -> list[str]:
    """The stack's containers that already exist (someone's dev stack)."""
    mine = {r.inputs["name"] for r in run.resources if r.type == "docker:index/container:Container"}
    return sorted(c.name for c in client.containers.list(all=True) if c.name in mine)


@contextlib.contextmanager
def dev_stack_lock():
    """The dev stack's names and ports are shared: hold the shared lock while deploying it."""
    with open(DEV_STACK_LOCK, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {DEV_STACK_LOCK} (someone else is using the dev stack)")
            fcntl.flock(f, fcntl.LOCK_EX)
        log(f"holding {DEV_STACK_LOCK}")
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# -- the runs ------------------------------------------------------------------
def run(quick: bool, out_dir: Path, rounds: int | None = None, command: str = "") -> dict:
    """Interleaved rounds (docker shell, pulumi up, ...); the section for RESULTS.md."""
    rounds = rounds or (1 if quick else 3)
    load = load_average()
    client = docker.from_env()
    config = shipped_config("dev")
    run_ = run_stack("dev", config=config)
    servers = [r.inputs["name"] for r in run_.resources
               if r.type == "docker:index/container:Container" and r.inputs.get("mustRun", True)]
    root = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    script = root / "deploy.sh"
    script.write_text(docker_shell(run_, root))
    log(f"{len(servers)} containers; shell at {script}")
    times: dict[str, list[float]] = {"pulumi up": [], "docker shell": []}
    lines: dict[str, list[dict[str, tuple[float, Optional[float]]]]] = {k: [] for k in times}
    with dev_stack_lock():
        there = existing(client, run_)
        if there:
            raise BenchError(f"the dev stack's containers exist ({', '.join(there)}); destroy that stack first "
                             "(bash scripts/up.sh --destroy)")
        backend = Backend(root / "pulumi")
        stack = backend.stack("bench-dev", config)
        try:
            for rnd in range(1, rounds + 1):
                log(f"round {rnd}/{rounds}: pulumi up")
                t0, wall0 = time.perf_counter(), time.time()
                res = stack.up()  # streams Pulumi's own progress
                times["pulumi up"].append(time.perf_counter() - t0)
                if res.summary.result != "succeeded":
                    raise BenchError(f"pulumi up: {res.summary.result}")
                wait_healthy(client, servers, timeout=5)  # already healthy: the provider waited
                lines["pulumi up"].append(timeline(client, servers, wall0))
                log(f"round {rnd}/{rounds}: pulumi up took {times['pulumi up'][-1]:.1f}s; pulumi destroy")
                stack.destroy()
                clean(client, run_)

                log(f"round {rnd}/{rounds}: docker shell")
                t0, wall0 = time.perf_counter(), time.time()
                subprocess.run(["bash", str(script)], check=True)
                wait_healthy(client, servers)
                times["docker shell"].append(time.perf_counter() - t0)
                lines["docker shell"].append(timeline(client, servers, wall0))
                clean(client, run_)
                log(f"round {rnd}: pulumi {times['pulumi up'][-1]:.1f}s, shell {times['docker shell'][-1]:.1f}s")
        finally:
            try:
                stack.stack.destroy(color="never")
            except Exception:  # noqa: BLE001
                pass
            clean(client, run_)
            rmtree(root)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["pulumi up"] / med["docker shell"]
    rows = "\n".join(
        f"| {k} | {med[k]:.1f} s | {min(v):.1f} s | {max(v):.1f} s | {', '.join(f'{x:.1f}' for x in v)} |"
        for k, v in times.items()
    )
    pulumi_version = subprocess.run(["pulumi", "version"], capture_output=True, text=True).stdout.strip()
    body = f"""## P1: deploy, real `pulumi up` against a plain docker shell

{header(command or f"python3 bench/bench_deploy.py --rounds {rounds}", load,
        f"Pulumi CLI `{pulumi_version}`, Docker engine {client.version()['Version']}")}
The dev stack ({len(servers)} containers, {len(run_.resources)} resources) from
nothing to every container healthy; rounds interleaved, images present locally; run under
`{DEV_STACK_LOCK}` (the dev stack's names and ports are shared).

| case | median | min | max | rounds |
|---|---:|---:|---:|---|
{rows}

Ratio `pulumi up` / docker shell: **{ratio:.2f}x**.

![P1](p1_deploy.png)

When each server started and first passed its health check, in seconds from the command's start
(medians over the rounds; `docker inspect`: `State.StartedAt`, the first passing entry of
`State.Health.Log`):

{timeline_table(lines)}

{ANALYSIS}
"""
    plot(times, ratio, out_dir / "p1_deploy.png")
    headline = f"`pulumi up` {med['pulumi up']:.1f} s vs docker shell {med['docker shell']:.1f} s: **{ratio:.2f}x**"
    return {"key": "P1", "body": body,
            "data": {"times": times, "ratio": ratio, "load": load, "headline": headline, "timeline": lines}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print the results only")
    ap.add_argument("--out-dir", type=Path, default=HERE)
    args = ap.parse_args()
    out_dir = args.out_dir if not args.no_write else Path(tempfile.mkdtemp(prefix="bench-p1-"))
    try:
        res = run(False, out_dir, args.rounds, f"python3 bench/bench_deploy.py --rounds {args.rounds}")
    except BenchError as e:
        log(str(e))
        return 2
    print(res["body"])
    if not args.no_write:
        write_section(out_dir / "RESULTS.md", "P1", res["body"])
        log(f"wrote {out_dir / 'RESULTS.md'} and {out_dir / 'p1_deploy.png'}")
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
