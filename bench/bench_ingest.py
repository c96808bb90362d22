"""P4, ingest: the samples per second that 3 receivers at RF 3 take before
remote write falls behind, against 1 receiver at RF 1, on the same machine.

Receivers are the pinned `thanos receive` binary run as host processes on
loopback (~/.cache/agentstream/bin/thanos-<version>/thanos), with the command
line the components deploy (``receive_args``: the same hashring algorithm,
replication factor, tenancy, TSDB settings; only addresses and the data
directory are changed to loopback ports and a temporary directory, and the
Cap'n Proto listener, unused, gets a port of its own) and the
hashring file they render (``render_hashring``). Load: an HA pair of host
Prometheus agents with the fleets' config (``render_agent_config``, default
queue settings), each scraping a synthetic exporter of N series every 1 s and
writing to a receiver of its own (agent i -> receiver i mod R).

A ramp doubles N (offered samples/s = 2 agents x N / 1 s) until a step falls
behind, then tries one step between the last good one and the failing one.
A step keeps up when, over its window (after a settle time): the agents sent
at least 95% of what they appended, the remote-write lag (wall time
minus the newest sent sample's timestamp) stayed under 10 s and grew less than 5 s,
and no sample failed or was dropped. The knee is the sent rate of the last
step that kept up. Repetitions are interleaved (1xRF1, 3xRF3, then 3xRF3,
1xRF1, ...), each on fresh receivers and agents.

    python3 bench/bench_ingest.py [--quick] [--reps 3] [--out-dir bench]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    HERE,
    PROMETHEUS,
    THANOS,
    BenchError,
    Exporter,
    Proc,
    free_port,
    header,
    load_average,
    logger,
    median,
    pyplot,
    require_binary,
    rmtree,
    scrape,
    total,
    wait_http,
    write_section,
)

from agentstream.config import agent_args, receive_args, render_agent_config, render_hashring  # noqa: E402
from agentstream.receive_cluster import validate_receive_args  # noqa: E402
from agentstream.agent_fleet import validate_fleet_args  # noqa: E402

# The agents' own argv, from the fleet's validated defaults (WAL retention 4h).
AGENT_SETTINGS = validate_fleet_args("bench", {"remote_write_url": "http://127.0.0.1:19291/api/v1/receive"}, None, "docker")

log = logger("P4 ingest")
NOTE = """How to read it: on one machine the cores are fixed, so 3 receivers at RF 3 must write every
sample 3 times with the same CPU; a ratio near 1 means replication costs those extra writes and
little else (forwarding between receivers, the write quorum), below 1 that it costs more. The
ramp's factor-2 steps (one refinement between) make each knee coarse, and other jobs on the
machine move it between repetitions (see the per-repetition column): read the ratio, not the
absolute rates. What falls behind first is the agents' remote-write queue: the receivers' CPU
(column in the steps table) rises with the rate until the machine is saturated, and the agents'
shards (default queue settings: `max_shards` 10) only grow from 2 after the backlog has built up."""
CONFIGS = {"1 receiver, RF 1": (1, 1), "3 receivers, RF 3": (3, 3)}
AGENTS = 2
SCRAPE_INTERVAL = 1.0
NAMES = {
    "prometheus_agent_samples_appended_total", "prometheus_remote_storage_samples_total",
    "prometheus_remote_storage_samples_failed_total", "prometheus_remote_storage_samples_dropped_total",
    "prometheus_remote_storage_samples_retried_total", "prometheus_remote_storage_highest_timestamp_in_seconds",
    "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", "prometheus_remote_storage_shards",
    "prometheus_remote_storage_samples_pending",
}


class Rig:
    """R receivers at RF and two agents, all host processes, fresh directories."""

    def __init__(self, replicas: int, rf: int, exporter: Exporter):
        self.root = Path(tempfile.mkdtemp(prefix=f"bench-p4-{replicas}x{rf}-"))
        self.procs: list[Proc] = []
        ports: set = set()
        settings = validate_receive_args({"replicas": replicas, "replication_factor": rf}, "docker")
        recv = [{k: free_port(32000, 32999, ports) for k in ("http", "grpc", "rw", "capnp")} for _ in range(replicas)]
        ring = self.root / "hashrings.json"
        ring.write_text(render_hashring([f"127.0.0.1:{r['grpc']}" for r in recv],
                                        algorithm=settings.hashring_algorithm))
        try:
            for i, r in enumerate(recv):
                argv = receive_args(settings, instance=f"bench-receive-{i}", local_endpoint=f"127.0.0.1:{r['grpc']}",
                                    hashrings_file=str(ring))
                repl = {
                    "--http-address": f"127.0.0.1:{r['http']}", "--grpc-address": f"127.0.0.1:{r['grpc']}",
                    "--remote-write.address": f"127.0.0.1:{r['rw']}", "--tsdb.path": str(self.root / f"receive-{i}"),
                }
                argv = [f"{a.split('=', 1)[0]}={repl[a.split('=', 1)[0]]}" if a.split("=", 1)[0] in repl else a for a in argv]
                # Unused with the default replication protocol, but it listens: one port each on one host.
                argv.append(f"--receive.capnproto-address=127.0.0.1:{r['capnp']}")
                self.procs.append(Proc(f"receive-{i}", [str(THANOS), *argv], self.root))
            for i, r in enumerate(recv):
                wait_http(f"http://127.0.0.1:{r['http']}/-/ready", f"receive-{i}", 60, self.procs[i])
            self.agent_ports = []
            for i in range(AGENTS):
                port = free_port(32000, 32999, ports)
                cfg = self.root / f"agent-{i}.yml"
                cfg.write_text(render_agent_config(
                    external_labels={"cluster": "p4", "prometheus_replica": f"agent-{i}"},
                    scrape_interval=f"{SCRAPE_INTERVAL:g}s",
                    self_targets=[f"127.0.0.1:{port}"],
                    static_targets=[exporter.address],
                    remote_write_url=f"http://127.0.0.1:{recv[i % replicas]['rw']}/api/v1/receive",
                    tenant_header=settings.tenant_header,
                    tenant="p4",
                ))
                argv = [a for a in agent_args(AGENT_SETTINGS)
                        if not a.startswith(("--config.file", "--storage.agent.path", "--web.listen-address"))]
                argv += [f"--config.file={cfg}", f"--storage.agent.path={self.root / f'agent-{i}'}",
                         f"--web.listen-address=127.0.0.1:{port}"]
                self.procs.append(Proc(f"agent-{i}", [str(PROMETHEUS), *argv], self.root))
                self.agent_ports.append(port)
            for i, port in enumerate(self.agent_ports):
                wait_http(f"http://127.0.0.1:{port}/-/ready", f"agent-{i}", 60, self.procs[replicas + i])
        except BaseException:
            self.close()
            raise

    def snapshot(self) -> dict:
        for p in self.procs:
            if not p.alive():
                raise BenchError(f"{p.name} exited:\n{p.tail()}")
        snap = {k: 0.0 for k in NAMES}
        snap["lag"] = 0.0
        for port in self.agent_ports:
            m = scrape(f"http://127.0.0.1:{port}/metrics", NAMES)
            for k in NAMES:
                snap[k] += total(m, k)
            # Wall time minus the newest sample delivered: a scrape interval
            # plus batching when keeping up, growing when falling behind.
            sent = total(m, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
            snap["lag"] = max(snap["lag"], time.time() - sent if sent > 0 else float("inf"))
        snap["t"] = time.time()
        snap["cpu"] = sum(p.cpu_seconds() for p in self.procs if p.name.startswith("receive"))
        return snap

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        rmtree(self.root)


def step(rig: Rig, exporter: Exporter, n: int, settle: float, window: float) -> dict:
    exporter.set_n(n)
    s0 = rig.snapshot()
    time.sleep(settle)
    s1 = rig.snapshot()
    r0, served0 = exporter.counters()
    time.sleep(window)
    s2 = rig.snapshot()
    r1, served1 = exporter.counters()
    dt = s2["t"] - s1["t"]
    appended = (s2["prometheus_agent_samples_appended_total"] - s1["prometheus_agent_samples_appended_total"]) / dt
    sent = (s2["prometheus_remote_storage_samples_total"] - s1["prometheus_remote_storage_samples_total"]) / dt
    failed = s2["prometheus_remote_storage_samples_failed_total"] - s0["prometheus_remote_storage_samples_failed_total"]
    dropped = s2["prometheus_remote_storage_samples_dropped_total"] - s0["prometheus_remote_storage_samples_dropped_total"]
    retried = s2["prometheus_remote_storage_samples_retried_total"] - s0["prometheus_remote_storage_samples_retried_total"]
    offered = AGENTS * n / SCRAPE_INTERVAL
    res = {
        "n": n, "offered": offered, "served": (served1 - served0) / dt, "appended": appended, "sent": sent,
        "lag_start": s1["lag"], "lag_end": s2["lag"], "failed": failed, "dropped": dropped, "retried": retried,
        "shards": s2["prometheus_remote_storage_shards"], "receive_cpu_pct": 100 * (s2["cpu"] - s1["cpu"]) / dt,
    }
    reasons = []
    # The agents could not scrape what was offered (the machine's cores are
    # shared by exporter, agents and receivers): the ramp cannot go higher.
    res["saturated"] = appended < 0.9 * offered
    if sent < 0.95 * appended:
        reasons.append(f"sent {sent:.0f}/s < 95% of appended {appended:.0f}/s")
    if s2["lag"] >= 10:
        reasons.append(f"lag {s2['lag']:.1f}s >= 10s")
    if s2["lag"] - s1["lag"] >= 5:
        reasons.append(f"lag grew {s2['lag'] - s1['lag']:.1f}s")
    if failed or dropped:
        reasons.append(f"{failed:.0f} failed, {dropped:.0f} dropped")
    res["ok"] = not reasons
    res["why"] = "; ".join(reasons)
    return res


def ramp(name: str, replicas: int, rf: int, exporter: Exporter, plan: dict) -> dict:
    exporter.set_n(0)
    rig = Rig(replicas, rf, exporter)
    steps = []
    try:
        time.sleep(2)
        n = plan["start"]
        good = bad = None
        while True:
            s = step(rig, exporter, n, plan["settle"], plan["window"])
            steps.append(s)
            log(f"  {name}: offered {s['offered']:.0f}/s appended {s['appended']:.0f}/s sent {s['sent']:.0f}/s "
                f"lag {s['lag_start']:.1f}->{s['lag_end']:.1f}s shards {s['shards']:.0f} receive CPU {s['receive_cpu_pct']:.0f}% "
                f"failed {s['failed']:.0f} dropped {s['dropped']:.0f} retried {s['retried']:.0f}: "
                f"{'keeps up' if s['ok'] else 'FALLS BEHIND (' + s['why'] + ')'}")
            if s["ok"]:
                good = s
            else:
                bad = s
                break
            if s["saturated"]:
                log(f"  {name}: the agents appended {s['appended']:.0f}/s of {s['offered']:.0f}/s offered: load generator "
                    "saturated, the knee is at least this step")
                break
            if len(steps) >= plan["max_steps"] or n >= plan["max_n"]:
                break
            n *= 2
        if plan["refine"] and good is not None and bad is not None:
            # Restarting would cost more than the step: the refinement runs on
            # the same rig, after the overload has drained (lag back to ~0).
            exporter.set_n(0)
            t0 = time.time()
            while rig.snapshot()["lag"] > 3 and time.time() - t0 < 60:
                time.sleep(2)
            mid = int(good["n"] * math.sqrt(2))
            s = step(rig, exporter, mid, plan["settle"], plan["window"])
            s["refinement"] = True
            steps.append(s)
            log(f"  {name}: refinement offered {s['offered']:.0f}/s sent {s['sent']:.0f}/s lag {s['lag_end']:.1f}s: "
                f"{'keeps up' if s['ok'] else 'falls behind (' + s['why'] + ')'}")
            if s["ok"]:
                good = s
    finally:
        rig.close()
    return {"steps": steps, "knee": good["sent"] if good else 0.0, "knee_offered": good["offered"] if good else 0.0,
            "lower_bound": bool(good and bad is None),
            "first_bad": bad["offered"] if bad else None, "bad_sent": bad["sent"] if bad else None,
            "failed_below": sum(s["failed"] for s in steps if s["ok"]),
            "dropped_below": sum(s["dropped"] for s in steps if s["ok"])}


def run(quick: bool, out_dir: Path, reps: int | None = None, command: str = "") -> dict:
    require_binary(PROMETHEUS)
    require_binary(THANOS)
    load = load_average()
    reps = reps or (1 if quick else 3)
    plan = ({"start": 2500, "settle": 5, "window": 8, "max_steps": 2, "max_n": 5000, "refine": False} if quick else
            {"start": 5000, "settle": 6, "window": 12, "max_steps": 7, "max_n": 320000, "refine": True})
    exporter = Exporter(0)
    results: dict[str, list] = {name: [] for name in CONFIGS}
    try:
        for rep in range(reps):
            order = list(CONFIGS) if rep % 2 == 0 else list(CONFIGS)[::-1]
            for name in order:
                log(f"rep {rep + 1}/{reps}: {name}")
                results[name].append(ramp(name, *CONFIGS[name], exporter, plan))
    finally:
        exporter.close()
    for name, rs in results.items():
        if not any(r["knee"] > 0 for r in rs):
            raise BenchError(f"{name}: no step kept up (first step offered {2 * plan['start']}/s)")
    knee = {name: median(r["knee"] for r in rs) for name, rs in results.items()}
    single, triple = knee["1 receiver, RF 1"], knee["3 receivers, RF 3"]
    ratio = triple / (single / 3) if single else float("nan")
    failed = sum(r["failed_below"] + r["dropped_below"] for rs in results.values() for r in rs)
    rows = []
    for name, rs in results.items():
        rows.append(
            f"| {name} | **{knee[name]:,.0f}** | {', '.join(('>= ' if r['lower_bound'] else '') + format(r['knee'], ',.0f') for r in rs)} "
            f"| {', '.join('-' if r['first_bad'] is None else format(r['first_bad'], ',.0f') for r in rs)} "
            f"| {sum(r['failed_below'] for r in rs):.0f} / {sum(r['dropped_below'] for r in rs):.0f} |"
        )
    steps_rows = []
    for name, rs in results.items():
        for i, r in enumerate(rs):
            for s in r["steps"]:
                steps_rows.append(
                    f"| {name} | {i + 1} | {s['offered']:,.0f}{' (refine)' if s.get('refinement') else ''} | {s['appended']:,.0f} "
                    f"| {s['sent']:,.0f} | {s['lag_end']:.1f} | {s['shards']:.0f} | {s['receive_cpu_pct']:.0f} "
                    f"| {s['failed']:.0f}/{s['dropped']:.0f}/{s['retried']:.0f} "
                    f"| {('yes' + (' (generator saturated)' if s['saturated'] else '')) if s['ok'] else 'no: ' + s['why']} |")
    body = "\n".join([
        "## P4: ingest, 3 receivers at RF 3 against 1 receiver at RF 1",
        "",
        header(command or f"python3 bench/run.py --only P4{' --quick' if quick else ''}", load,
               f"{reps} interleaved repetition(s), settle {plan['settle']} s + window {plan['window']} s per step"),
        "",
        "The pinned `thanos receive` as host processes on loopback with the components' command line (`receive_args`, "
        "ketama hashring from `render_hashring`); two host Prometheus agents with the fleets' config and default queue "
        f"settings scrape a synthetic exporter of N series every {SCRAPE_INTERVAL:g} s (offered = 2 N samples/s), "
        "each writing to its own receiver. The ramp doubles N until a step falls behind (sent < 95% of appended, lag "
        "over 10 s or growing 5 s, or any failed/dropped sample), then tries the step between; it also stops when the "
        "agents cannot append 90% of what is offered (the load generator is saturated: `>=` marks such a knee as a lower "
        "bound). Offered counts the synthetic series only; appended and sent include the agents' self-scrape "
        "(~500 series each). Agents, exporter and receivers share the same 2 cores.",
        "",
        "| receivers | knee (sent samples/s), median | per repetition | first offered rate that fell behind | failed / dropped samples below the knee |",
        "|---|---:|---|---|---:|",
        *rows,
        "",
        f"RF-adjusted single-receiver figure: {single:,.0f} / 3 = {single / 3:,.0f} samples/s (on one machine every "
        "sample is written RF times, so 3 receivers at RF 3 do 3 writes per sample with the same cores). "
        f"3 receivers at RF 3 take **{triple:,.0f}** samples/s: **{ratio:.2f}x** the RF-adjusted figure "
        f"({triple / single:.2f}x the single receiver's raw rate). Failed + dropped samples below the knee: **{failed:.0f}**.",
        "",
        NOTE,
        "",
        "![P4](p4_ingest.png)",
        "",
        "<details><summary>Every step</summary>",
        "",
        "| receivers | rep | offered/s | appended/s | sent/s | lag s | shards | receive CPU % | failed/dropped/retried | kept up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        *steps_rows,
        "",
        "</details>",
    ])
    plot(results, out_dir / "p4_ingest.png", ratio)
    headline = (f"knee 1xRF1 {single:,.0f}/s, 3xRF3 {triple:,.0f}/s: **{ratio:.2f}x** the RF-adjusted figure; "
                f"{failed:.0f} failed/dropped below the knee")
    return {"key": "P4", "body": body, "data": {"results": results, "knee": knee, "ratio": ratio, "load": load,
                                                 "headline": headline}}


def plot(results: dict, out: Path, ratio: float) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, rs), color in zip(results.items(), ("#4c72b0", "#dd8452")):
        for i, r in enumerate(rs):
            xs = [s["offered"] for s in r["steps"]]
            ys = [s["sent"] for s in r["steps"]]
            order = sorted(range(len(xs)), key=xs.__getitem__)
            ax.plot([xs[j] for j in order], [ys[j] for j in order], "-", color=color, alpha=0.5,
                    label=name if i == 0 else None)
            for s in r["steps"]:
                ax.plot(s["offered"], s["sent"], "o" if s["ok"] else "x", color=color)
        ax.axhline(median(r["knee"] for r in rs), color=color, ls="--", lw=1)
    lim = max(s["offered"] for rs in results.values() for r in rs for s in r["steps"])
    ax.plot([0, lim], [0, lim], ":", color="grey", label="sent = offered")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered samples/s (2 agents, 1 s scrape)")
    ax.set_ylabel("sent samples/s (o kept up, x fell behind)")
    ax.set_title(f"P4 ingest knee (dashed: median); 3xRF3 / (1xRF1 / 3) = {ratio:.2f}")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--out-dir", type=Path, default=HERE)
    args = ap.parse_args()
    res = run(args.quick, args.out_dir, args.reps, "python3 bench/bench_ingest.py" + (" --quick" if args.quick else ""))
    write_section(args.out_dir / "RESULTS.md", res["key"], res["body"])
    (args.out_dir / "raw").mkdir(exist_ok=True)
    (args.out_dir / "raw" / "p4.json").write_text(json.dumps(res["data"], indent=1, default=str))
    print(res["body"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
