"""One entry point for the benchmark suite (P1..P5).

    PYTHONPATH=components python3 bench/run.py            # full: bench/RESULTS.md + PNGs
    PYTHONPATH=components python3 bench/run.py --quick    # CI: each once, small, < 5 min
    PYTHONPATH=components python3 bench/run.py --only P3,P4 [--out-dir DIR]

  P1 deploy     real `pulumi up` of the dev stack vs a plain docker shell   (bench_deploy.py)
  P2 freshness  scrape -> queryable through Query, 5 s and 15 s scrapes     (bench_freshness.py)
  P3 footprint  agent vs server mode Prometheus, RSS and CPU, 0..100k series (bench_footprint.py)
  P4 ingest     3 receivers RF 3 vs 1 receiver RF 1, knee of remote write   (bench_ingest.py)
  P5 scale      stack program time and memory vs fleets and receivers       (bench_scale.py)

Each benchmark runs in a subprocess of its own and writes its section
(``<!-- Px begin -->`` ... ``<!-- Px end -->``), plot and raw JSON into the
output directory; this script then puts the sections into RESULTS.md there.
The full run goes into bench/ (replacing only the sections it ran, one after
the other, so they do not disturb each other's numbers). ``--quick`` writes
into a fresh temporary directory (never over bench/RESULTS.md) and runs the
Docker benchmarks (P1, P2) beside the host ones (P5, P3, P4) to stay under
5 minutes; its numbers only prove each benchmark works. The exit status is
non-zero if any benchmark could not produce its numbers.

Needs: the Pulumi CLI on PATH and a Docker engine with the pinned images (P1,
P2), the pinned Prometheus and Thanos binaries under
~/.cache/agentstream/bin (P3, P4), matplotlib (all). P1 holds
/tmp/agentstream-dev-stack.lock while it deploys the shared dev stack.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import HERE, REPO, BenchError, logger, replace_section, wrap_section  # noqa: E402

log = logger("bench")
ORDER = ["P1", "P2", "P3", "P4", "P5"]
MODULES = {"P1": "bench_deploy", "P2": "bench_freshness", "P3": "bench_footprint", "P4": "bench_ingest", "P5": "bench_scale"}
# Quick mode: two lanes at once (Docker-bound, host-bound); the full run is sequential.
LANES = [["P1", "P2"], ["P5", "P3", "P4"]]
TIMEOUT = {True: 290, False: 3600}


def one(key: str, quick: bool, out_dir: Path, sections: Path, command: str, reps: int | None) -> int:
    """Child: run one benchmark; its plot and raw data into out_dir, its section into sections."""
    import importlib

    mod = importlib.import_module(MODULES[key])
    try:
        res = mod.run(quick, out_dir, reps, command)
    except BenchError as e:
        log(f"{key} FAILED: {e}")
        return 3
    (sections / f"{key}.md").write_text(wrap_section(key, res["body"]))
    (out_dir / "raw").mkdir(exist_ok=True)
    (out_dir / "raw" / f"{key.lower()}.json").write_text(json.dumps(res["data"], indent=1, default=str))
    print(res["body"], flush=True)
    return 0


TITLES = {
    "P1": ("p1-deploy-real-pulumi-up-against-a-plain-docker-shell", "real `pulumi up` of the dev stack vs a docker shell"),
    "P2": ("p2-freshness-scrape-to-queryable-through-query", "scrape to queryable through Query"),
    "P3": ("p3-footprint-agent-mode-against-server-mode", "agent vs server mode Prometheus, RSS and CPU"),
    "P4": ("p4-ingest-3-receivers-at-rf-3-against-1-receiver-at-rf-1", "ingest knee, 3 receivers RF 3 vs 1 receiver RF 1"),
    "P5": ("p5-scale-of-the-stack-program", "stack program time and memory vs fleets and receivers"),
}


def index(out_dir: Path) -> str:
    """The summary table, from each benchmark's last raw data in out_dir."""
    rows = ["| | what | headline (medians; details in the section) |", "|---|---|---|"]
    for k in ORDER:
        raw = out_dir / "raw" / f"{k.lower()}.json"
        try:
            headline = json.loads(raw.read_text()).get("headline", "")
        except (OSError, ValueError):
            headline = "not run yet"
        rows.append(f"| [{k}](#{TITLES[k][0]}) | {TITLES[k][1]} | {headline} |")
    return "\n".join(rows)


def spawn(key: str, args, out_dir: Path, sections: Path, command: str, status: dict) -> None:
    argv = [sys.executable, __file__, "--one", key, "--out-dir", str(out_dir), "--sections", str(sections),
            "--command", command]
    if args.quick:
        argv.append("--quick")
    if args.reps:
        argv += ["--reps", str(args.reps)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in [str(REPO / "components"), str(REPO), os.environ.get("PYTHONPATH", "")] if p),
           "PYTHONUNBUFFERED": "1"}
    log(f"{key} ({MODULES[key]}.py) starting")
    t0 = time.time()
    try:
        rc = subprocess.run(argv, env=env, cwd=REPO, timeout=TIMEOUT[args.quick], stdout=subprocess.DEVNULL).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    status[key] = {"rc": rc, "seconds": time.time() - t0}
    log(f"{key} {'done' if rc == 0 else 'FAILED (' + str(rc) + ')'} in {time.time() - t0:.0f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="each benchmark once, small, into a temporary directory")
    ap.add_argument("--only", help="comma-separated subset, e.g. P3,P4")
    ap.add_argument("--out-dir", type=Path, help="default: bench/ (full), a new temporary directory (--quick)")
    ap.add_argument("--reps", type=int, help="repetitions (rounds for P1) instead of each benchmark's default")
    ap.add_argument("--sequential", action="store_true", help="--quick without the two parallel lanes")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--command", help=argparse.SUPPRESS)
    ap.add_argument("--sections", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.one:
        try:
            return one(args.one, args.quick, args.out_dir, args.sections, args.command or "", args.reps)
        except Exception:  # noqa: BLE001 - any crash means no numbers
            traceback.print_exc()
            return 4

    keys = [k.strip().upper() for k in args.only.split(",")] if args.only else ORDER
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        ap.error(f"unknown benchmark {unknown}; known: {', '.join(ORDER)}")
    out_dir = args.out_dir or (Path(tempfile.mkdtemp(prefix="agentstream-bench-quick-")) if args.quick else HERE)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "python3 bench/run.py" + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "") + (
        f" --reps {args.reps}" if args.reps else "")
    sections = Path(tempfile.mkdtemp(prefix="agentstream-bench-sections-"))
    log(f"{'quick' if args.quick else 'full'} run of {', '.join(keys)} into {out_dir}; load average {os.getloadavg()}")
    t0 = time.time()
    status: dict = {}
    if args.quick and not args.sequential:
        threads = []
        for lane in LANES:
            todo = [k for k in lane if k in keys]

            def go(todo=todo):
                for k in todo:
                    spawn(k, args, out_dir, sections, command, status)

            threads.append(threading.Thread(target=go))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for k in keys:
            spawn(k, args, out_dir, sections, command, status)
    elapsed = time.time() - t0

    results = out_dir / "RESULTS.md"
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    for k in ORDER:
        part = sections / f"{k}.md"
        if k in keys and part.exists():
            text = replace_section(text, k, part.read_text())
    text = replace_section(text, "index", wrap_section("index", index(out_dir)))
    results.write_text(text.rstrip() + "\n")
    failed = [k for k in keys if status.get(k, {}).get("rc") != 0 or not (sections / f"{k}.md").exists()]
    summary = ", ".join(f"{k} {status[k]['seconds']:.0f}s{'' if k not in failed else ' FAILED'}" for k in keys if k in status)
    log(f"finished in {elapsed:.0f}s ({summary}); results in {results}")
    if failed:
        log(f"FAILED: {', '.join(failed)} produced no numbers (see the output above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
