"""Helpers shared by the benchmarks (bench/bench_*.py, bench/run.py).

* progress logging, the machine and its load (``uptime``) at a section's start;
* sections of bench/RESULTS.md between ``<!-- Px begin -->``/``<!-- Px end -->``
  markers, so each benchmark rewrites only its own part;
* a synthetic exporter (a small threaded HTTP server that serves N series,
  re-rendered only when N changes) and a remote-write sink;
* the pinned Prometheus/Thanos binaries, host processes on loopback with their
  RSS and CPU read from /proc, and a Prometheus text-format reader;
* statistics (percentiles, least squares) and matplotlib set-up.
"""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Optional, Sequence

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from agentstream import versions  # noqa: E402

CACHE = Path(os.environ.get("AGENTSTREAM_CACHE", os.path.expanduser("~/.cache/agentstream")))
PROMETHEUS = CACHE / "bin" / f"prometheus-{versions.PROMETHEUS_VERSION}" / "prometheus"
THANOS = CACHE / "bin" / f"thanos-{versions.THANOS_VERSION}" / "thanos"
DEV_STACK_LOCK = "/tmp/agentstream-dev-stack.lock"


class BenchError(RuntimeError):
    """A benchmark could not produce its numbers."""


# -- logging and the machine ---------------------------------------------------
def logger(tag: str):
    def log(msg: str) -> None:
        print(f"[{tag}] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    return log


_STARTED: list = []


def load_average() -> str:
    """`uptime`'s load average now; the first call also marks the benchmark's start (for header())."""
    if not _STARTED:
        _STARTED.append(time.gmtime())
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{mem}, Linux {platform.release()}, Python {platform.python_version()}"


def header(command: str, load_at_start: str, extra: str = "") -> str:
    """The line every section starts with: date, machine, command, load."""
    return (
        f"`{command}`, started {time.strftime('%Y-%m-%d %H:%M UTC', _STARTED[0] if _STARTED else time.gmtime())}, {machine()}; "
        f"load average at start (`uptime`: 1, 5, 15 min) **{load_at_start}** (other jobs share this machine)"
        + (f"; {extra}" if extra else "")
        + "."
    )


# -- RESULTS.md sections ---------------------------------------------------------
def replace_section(text: str, key: str, section: str) -> str:
    """``text`` with the part between ``<!-- key begin -->`` and ``<!-- key end -->``
    replaced by ``section`` (which carries its markers), or ``section`` appended."""
    begin, end = f"<!-- {key} begin -->", f"<!-- {key} end -->"
    section = section.strip()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + section + rest.split(end, 1)[1]
    return text.rstrip() + "\n\n" + section + "\n"


def wrap_section(key: str, body: str) -> str:
    return f"<!-- {key} begin -->\n{body.strip()}\n<!-- {key} end -->\n"


def write_section(results: Path, key: str, body: str) -> None:
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    results.write_text(replace_section(text, key, wrap_section(key, body)).rstrip() + "\n")


# -- statistics --------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    v = sorted(values)
    if not v:
        return math.nan
    k = (len(v) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def median(values: Iterable[float]) -> float:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return statistics.median(v) if v else math.nan


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (intercept, slope, R^2)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx if sxx else 0.0
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return a, b, (1 - ss_res / ss_tot) if ss_tot else 1.0


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# -- ports -------------------------------------------------------------------------
def free_port(start: int = 30000, end: int = 39999, taken: Optional[set] = None) -> int:
    """A free TCP port on loopback in [start, end] (and not in ``taken``)."""
    taken = taken if taken is not None else set()
    for port in range(start, end + 1):
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise BenchError(f"no free port in {start}-{end}")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


# -- a synthetic exporter -----------------------------------------------------------
class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # noqa: D401 - silence access logs
        pass


class Exporter:
    """Serves ``n`` gauge series ``bench_series{idx, grp}`` on /metrics.

    The body is rendered when ``n`` changes, in four variants with different
    values served in turn (every scrape sees new values), so serving costs
    a copy, not a render. Counts the samples it served.
    """

    VARIANTS = 4

    def __init__(self, n: int = 0, host: str = "127.0.0.1", port: int = 0):
        self.lock = threading.Lock()
        self.bodies: list[bytes] = []
        self.n = -1
        self.requests = 0
        self.samples_served = 0
        self.set_n(n)
        exporter = self

        class Handler(_Quiet):
            def do_GET(self) -> None:  # noqa: N802
                with exporter.lock:
                    body = exporter.bodies[exporter.requests % Exporter.VARIANTS]
                    exporter.requests += 1
                    exporter.samples_served += exporter.n + 1
                now = f"bench_exporter_time_seconds {time.time():.3f}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body) + len(now)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.write(now)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.address = f"{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set_n(self, n: int) -> None:
        if n == self.n:
            return
        bodies = []
        head = "# HELP bench_series A synthetic series.\n# TYPE bench_series gauge\n"
        for v in range(Exporter.VARIANTS):
            lines = [f'bench_series{{idx="{i}",grp="g{i % 100}"}} {(i * 7 + v) % 1000}' for i in range(n)]
            bodies.append((head + "\n".join(lines) + ("\n" if lines else "")).encode())
        with self.lock:
            self.bodies, self.n = bodies, n

    def counters(self) -> tuple[int, int]:
        with self.lock:
            return self.requests, self.samples_served

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RemoteWriteSink:
    """Accepts remote write and answers 204; counts requests and bytes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(_Quiet):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with sink.lock:
                    sink.requests += 1
                    sink.bytes += length
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/api/v1/receive"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- binaries and host processes ------------------------------------------------------
def require_binary(path: Path) -> str:
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} not built (bash scripts/build-binaries.sh, or wait for scripts/e2e-setup.sh)")
    return str(path)


class Proc:
    """A host process with its output in a log file; RSS and CPU from /proc."""

    CLK = os.sysconf("SC_CLK_TCK")

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: Optional[dict] = None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.p = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise BenchError(f"{self.name}: no VmRSS")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.CLK  # utime, stime

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self._log.close()


def wait_http(url: str, what: str, timeout: float = 60, proc: Optional[Proc] = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and not proc.alive():
            raise BenchError(f"{what} exited {proc.p.returncode}:\n{proc.tail()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise BenchError(f"{what} not ready at {url} after {timeout}s" + (f":\n{proc.tail()}" if proc else ""))


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(url: str, names: Optional[set] = None, timeout: float = 10) -> dict[str, list[tuple[str, float]]]:
    """A /metrics page: name -> [(labels text, value)]; only ``names`` if given."""
    out: dict[str, list[tuple[str, float]]] = {}
    for line in requests.get(url, timeout=timeout).text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _SAMPLE.match(line)
        if not m or (names is not None and m.group(1) not in names):
            continue
        try:
            out.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
        except ValueError:
            continue
    return out


def total(metrics: dict, name: str) -> float:
    return sum(v for _, v in metrics.get(name, []))


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
