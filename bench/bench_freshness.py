"""P2, freshness: how long from a scrape until its sample can be read through
Thanos Query, at 5 s and 15 s scrape intervals, p50/p90/p99.

The pipeline is deployed for real (``pulumi up`` through the Automation API,
tests/support/real_stack.Backend, local Docker) from a Python program built
with the components (bench/programs/freshness): by default the dev stack's
shape (3 receivers at RF 3, ketama, SeaweedFS + Store + Compact) with one
fleet of 2 agents per scrape interval, under names of its own (``bench-*``,
network ``agentstream-bench``, Query on 127.0.0.1:30902), so it never touches
the shared dev stack. Both fleets run at once, side by side.

Method: ``timestamp()`` against wall time. Every agent scrapes itself and its
peer; a probe on the host asks Query every 0.2 s for
``max by (cluster, prometheus_replica, instance) (timestamp(up{...}))``
without deduplication (each agent's scrape of each target is one key, the
max takes the first receive replica that has it). When a key's timestamp
moves to a new scrape, freshness = the probe's send time - that timestamp
(the scrape's start, set by the agent). The probe's period bounds the
resolution (values are upper bounds by at most ~0.2 s plus one query's time).
Container and host share one clock. Repetitions are consecutive windows.

    python3 bench/bench_freshness.py [--quick] [--reps 3] [--out-dir bench]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    HERE,
    BenchError,
    header,
    load_average,
    logger,
    median,
    percentile,
    port_free,
    pyplot,
    rmtree,
    write_section,
)

import requests  # noqa: E402

log = logger("P2 freshness")
NOTE = """How to read it: an agent's remote-write shard sends when its batch holds `max_samples_per_send`
(2000) samples or when `batch_send_deadline` (5 s, the fleets' default queue setting) has passed
since its last send. At these loads (a few hundred series per scrape) a batch never fills, so a
sample waits for its shard's next deadline flush: freshness is 0-5 s plus a few tenths for
receive and Query, whatever the scrape interval, and p99 stays near the deadline. The flush timer
restarts after each send, so its phase against the scrape loops drifts slowly: one window's p50
depends on where the scrapes fall in that 5 s cycle (hence windows that differ at the same
interval; a longer interval has fewer scrape loops to spread over the cycle). A rare sample
misses a flush and waits one more deadline (the max). To trade requests for freshness, lower
`queueConfig.batch_send_deadline`."""
PROGRAM = HERE / "programs" / "freshness"
INTERVALS = ["5s", "15s"]
QUERY_PORT = 30902
POLL = 0.2


def bench_names(receivers: int, agents: int, object_store: bool) -> list[str]:
    names = [f"bench-receive-{i}" for i in range(receivers)] + ["bench-query-0"]
    if object_store:
        names += ["benchobj-seaweedfs-0", "bench-store-0", "bench-compact-0"]
    names += [f"bench-{iv}-agent-{i}" for iv in INTERVALS for i in range(agents)]
    return names


def leftovers(client, prefixes=("bench-", "benchobj-")) -> list[str]:
    return [c.name for c in client.containers.list(all=True) if c.name.startswith(prefixes)
            and c.labels.get("app.kubernetes.io/part-of") == "agentstream"]


def probe(query_url: str, expected: int, windows: list[float], reps: int) -> list[dict]:
    """Poll Query; per repetition and interval the freshness of every new scrape seen."""
    q = 'max by (cluster, prometheus_replica, instance) (timestamp(up{cluster=~"bench-.*"}))'
    last: dict[tuple, float] = {}
    out = [{iv: [] for iv in INTERVALS} for _ in range(reps)]
    deadline = time.time() + 120
    # Wait until every agent's scrape of every target is visible.
    while True:
        r = requests.get(f"{query_url}/api/v1/query", params={"query": q, "dedup": "false"}, timeout=10).json()
        keys = {(s["metric"]["cluster"], s["metric"]["prometheus_replica"], s["metric"]["instance"]) for s in r["data"]["result"]}
        if len(keys) >= expected:
            break
        if time.time() > deadline:
            raise BenchError(f"only {len(keys)} of {expected} agent/target series visible through Query after 120 s")
        time.sleep(1)
    log(f"all {expected} agent/target series visible; warm-up {windows[0]:.0f}s, then {reps} window(s) of {windows[1]:.0f}s")
    start = time.time() + windows[0]
    ends = [start + (i + 1) * windows[1] for i in range(reps)]
    polls = slow = 0
    next_log = time.time() + 30
    while time.time() < ends[-1]:
        sent = time.time()
        r = requests.get(f"{query_url}/api/v1/query", params={"query": q, "dedup": "false"}, timeout=10).json()
        took = time.time() - sent
        polls += 1
        slow += took > 1
        for s in r["data"]["result"]:
            m = s["metric"]
            key = (m["cluster"], m["prometheus_replica"], m["instance"])
            ts = float(s["value"][1])
            prev = last.get(key)
            last[key] = max(ts, prev or 0)
            if prev is None or ts <= prev or ts < start:
                continue
            rep = next((i for i, e in enumerate(ends) if ts < e), None)
            if rep is not None:
                out[rep][m["cluster"].removeprefix("bench-")].append(sent - ts)
        if time.time() > next_log:
            n = {iv: sum(len(o[iv]) for o in out) for iv in INTERVALS}
            log(f"probing: {polls} polls ({slow} over 1 s), scrapes seen {n}, {ends[-1] - time.time():.0f}s left")
            next_log += 30
        time.sleep(max(0.0, POLL - took))
    return out


def run(quick: bool, out_dir: Path, reps: int | None = None, command: str = "") -> dict:
    import docker

    from tests.support.real_stack import Backend, pulumi_cli

    if not pulumi_cli():
        raise BenchError("no pulumi CLI on PATH (source the e2e set-up's exports)")
    client = docker.from_env()
    load = load_average()
    reps = reps or (1 if quick else 3)
    # Quick: the smallest pipeline (1 receiver, no bucket) to keep CI short.
    receivers, rf, object_store, agents = (1, 1, False, 2) if quick else (3, 3, True, 2)
    warmup, window = (10, 30) if quick else (20, 90)
    left = leftovers(client)
    if left:
        raise BenchError(f"containers named like this benchmark's exist: {left}; remove them first")
    if not port_free(QUERY_PORT):
        raise BenchError(f"127.0.0.1:{QUERY_PORT} is taken")
    root = Path(tempfile.mkdtemp(prefix="bench-p2-"))
    backend = Backend(root)
    config = {"bench:receivers": receivers, "bench:replicationFactor": rf, "bench:objectStore": object_store,
              "bench:agents": agents, "bench:queryPort": QUERY_PORT, "bench:scrapeIntervals": INTERVALS}
    stack = backend.stack("bench-p2", config, program=PROGRAM)
    timings = {}
    try:
        log(f"pulumi up: {receivers} receiver(s) at RF {rf}, object store {object_store}, fleets {INTERVALS} x {agents} agents")
        t0 = time.time()
        res = stack.up()
        timings["up"] = time.time() - t0
        if res.summary.result != "succeeded":
            raise BenchError(f"pulumi up: {res.summary.result}")
        query_url = stack.outputs()["query_url"]
        data = probe(query_url, len(INTERVALS) * agents * agents, [warmup, window], reps)
    finally:
        log("pulumi destroy")
        t0 = time.time()
        try:
            stack.destroy()
        finally:
            timings["destroy"] = time.time() - t0
            left = leftovers(client)
            for name in left:  # ours by name and label; only if destroy left them
                client.containers.get(name).remove(force=True, v=True)
            rmtree(root)
    per = {iv: [{"n": len(d[iv]), "p50": percentile(d[iv], 50), "p90": percentile(d[iv], 90), "p99": percentile(d[iv], 99),
                 "max": max(d[iv]) if d[iv] else float("nan")} for d in data] for iv in INTERVALS}
    pooled = {iv: [x for d in data for x in d[iv]] for iv in INTERVALS}
    for iv in INTERVALS:
        if len(pooled[iv]) < 3:
            raise BenchError(f"{iv}: only {len(pooled[iv])} scrapes seen through Query")
    rows = []
    for iv in INTERVALS:
        m = {k: median(r[k] for r in per[iv]) for k in ("p50", "p90", "p99")}
        reps_txt = "; ".join(f"{r['p50']:.2f}/{r['p90']:.2f}/{r['p99']:.2f} (n={r['n']})" for r in per[iv])
        rows.append(f"| {iv} | **{m['p50']:.2f}** | **{m['p90']:.2f}** | **{m['p99']:.2f}** | {reps_txt} "
                    f"| {percentile(pooled[iv], 50):.2f} / {percentile(pooled[iv], 90):.2f} / {percentile(pooled[iv], 99):.2f} / {max(pooled[iv]):.2f} "
                    f"| {len(pooled[iv])} |")
    topo = (f"{receivers} receiver{'s' if receivers > 1 else ''} at RF {rf}"
            + (", SeaweedFS + Store + Compact" if object_store else ", no object store"))
    body = "\n".join([
        "## P2: freshness, scrape to queryable through Query",
        "",
        header(command or f"python3 bench/run.py --only P2{' --quick' if quick else ''}", load,
               f"{reps} window(s) of {window} s after a {warmup} s warm-up"),
        "",
        f"Deployed with the real `pulumi up` ({timings['up']:.0f} s; destroy {timings['destroy']:.0f} s) from "
        f"bench/programs/freshness (the components' Python API): {topo}, one fleet of {agents} agents per scrape interval "
        "with the fleets' default queue settings, own names and network (`bench-*`, `agentstream-bench`). Both fleets "
        "run at once. **Method: `timestamp()` against wall time**: the probe asks Query every 0.2 s for "
        "`max by (cluster, prometheus_replica, instance) (timestamp(up))` (no dedup; one key per agent and target); "
        "a key's new timestamp (the scrape's start) is counted when first seen, freshness = probe time - timestamp. "
        "Resolution ~0.2 s (values are upper bounds).",
        "",
        "| scrape interval | p50 s (median of windows) | p90 s | p99 s | per window p50/p90/p99 | pooled p50 / p90 / p99 / max s | scrapes |",
        "|---|---:|---:|---:|---|---|---:|",
        *rows,
        "",
        NOTE,
        "",
        "![P2](p2_freshness.png)",
    ])
    plot(pooled, out_dir / "p2_freshness.png")
    headline = "; ".join(
        f"{iv} scrape p50 **{median(r['p50'] for r in per[iv]):.1f} s**, p99 **{median(r['p99'] for r in per[iv]):.1f} s**"
        for iv in INTERVALS)
    return {"key": "P2", "body": body, "data": {"per_window": per, "pooled": pooled, "timings": timings, "load": load,
                                                 "topology": topo, "headline": headline}}


def plot(pooled: dict, out: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for iv, color in zip(INTERVALS, ("#4c72b0", "#dd8452")):
        v = sorted(pooled[iv])
        ax.plot(v, [(i + 1) / len(v) for i in range(len(v))], "-", color=color, drawstyle="steps-post",
                label=f"{iv} scrape (n={len(v)}): p50 {percentile(v, 50):.1f} s, p99 {percentile(v, 99):.1f} s")
    ax.set_xlabel("seconds from scrape to queryable through Query")
    ax.set_ylabel("fraction of scrapes")
    ax.set_title("P2 freshness (CDF, all windows pooled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--out-dir", type=Path, default=HERE)
    args = ap.parse_args()
    res = run(args.quick, args.out_dir, args.reps, "python3 bench/bench_freshness.py" + (" --quick" if args.quick else ""))
    write_section(args.out_dir / "RESULTS.md", res["key"], res["body"])
    (args.out_dir / "raw").mkdir(exist_ok=True)
    (args.out_dir / "raw" / "p2.json").write_text(json.dumps(res["data"], indent=1, default=str))
    print(res["body"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
