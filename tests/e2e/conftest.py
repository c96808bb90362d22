"""Shared set-up for the real (e2e) tests: the real Pulumi engine, a Docker
engine with the pinned images, the real binaries, and helpers that read the
pipeline back through Query and the Docker API.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from agentstream import versions
from tests.support.pipeline import Query, assert_no_gap, changes, gaps, json_stream, wait_for
from tests.support.real_stack import Backend, RealStack, log, pulumi_cli

CACHE = os.environ.get("AGENTSTREAM_CACHE", os.path.expanduser("~/.cache/agentstream"))

# What the stacks run: the pinned images, present in the local engine (pulled
# or built by scripts/images.sh). The stacks name no other images.
PINNED = {
    "prometheus": versions.PROMETHEUS_IMAGE,
    "thanos": versions.THANOS_IMAGE,
    "seaweedfs": versions.SEAWEEDFS_IMAGE,
}
QUERY_PORT = 10902
REMOTE_WRITE_PORT = 19291
PART_OF = "app.kubernetes.io/part-of=agentstream"


def _missing(reason: str):
    # Locally, a missing real part skips with the fix; in CI it must fail,
    # because .ci/run installs everything first.
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs scripts/e2e-setup.sh first; did it fail?)")
    pytest.skip(f"{reason}; run: eval \"$(bash scripts/e2e-setup.sh)\"")


def binary(name: str) -> str:
    paths = {
        "prometheus": os.path.join(CACHE, "bin", f"prometheus-{versions.PROMETHEUS_VERSION}", "prometheus"),
        "promtool": os.path.join(CACHE, "bin", f"prometheus-{versions.PROMETHEUS_VERSION}", "promtool"),
        "thanos": os.path.join(CACHE, "bin", f"thanos-{versions.THANOS_VERSION}", "thanos"),
    }
    path = paths.get(name) or shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        _missing(f"{name} binary not built")
    return path


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means no usable engine
        _missing(f"no Docker engine answers ({e.__class__.__name__})")
    for ref in PINNED.values():
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            _missing(f"pinned image {ref} not in the local engine")
    return client


@pytest.fixture(scope="session")
def backend(tmp_path_factory, docker_client) -> Backend:
    """One file state backend for the session; stacks left deployed by a
    failed test are destroyed at the end, so the host is left clean."""
    if not pulumi_cli():
        _missing("no pulumi CLI on PATH")
    b = Backend(tmp_path_factory.mktemp("pulumi"))
    yield b
    for s in reversed(list(b.stacks.values())):
        try:
            if s.resource_states():
                log(f"session end: destroying leftover stack {s.name}")
                s.destroy()
        except Exception as e:  # noqa: BLE001 - best effort; leftovers() asserts in the tests
            log(f"session end: destroy of {s.name} failed: {e}")


@pytest.fixture(scope="session")
def promtool() -> str:
    return binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return binary("prometheus")


@pytest.fixture(scope="session")
def thanos_binary() -> str:
    return binary("thanos")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def push_samples(promtool: str, remote_write_url: str, samples: list[tuple[str, float, float]], *,
                 headers: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Remote-write ``(series, value, unix seconds)`` samples with the real
    ``promtool push metrics`` (remote write 1.0; it keeps each sample's own
    timestamp, from the text format). ``remote_write_url`` is receive's full
    URL, path included. Returns the process: exit 0 when receive took them all."""
    base, path = remote_write_url.split("/api/", 1)
    text = "".join(f"{series} {value} {int(ts * 1000)}\n" for series, value, ts in samples)
    cmd = [promtool, "push", "metrics", base, f"--remote-write.path=/api/{path}", "--label=job=e2e-push"]
    cmd += [f"--header={k}={v}" for k, v in (headers or {}).items()]
    return subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=60)


def bucket_blocks(docker_client, store: str = "central-store-0") -> list[dict]:
    """Blocks in the bucket, listed by the real `thanos tools bucket ls` with the deployed config."""
    out = docker_client.containers.get(store).exec_run(
        ["thanos", "tools", "bucket", "ls", "--objstore.config-file=/etc/thanos/objstore.yml", "-o", "json"],
        demux=True,
    )
    stdout, stderr = (part.decode(errors="replace") if part else "" for part in out.output)
    assert out.exit_code == 0, stderr[-2000:]
    return json_stream(stdout)


def docker_time(text: str) -> float:
    # "2026-12-02T16:30:01.123456789Z": Python takes microseconds at most.
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", text)
    assert m, text
    frac = float(m.group(2) or 0)
    return datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + frac


def started_at(docker_client, name: str) -> float:
    """When a container last started (Docker's clock, epoch seconds)."""
    return docker_time(docker_client.containers.get(name).attrs["State"]["StartedAt"])


def wait_all_healthy(docker_client, names: list[str], timeout: float = 120) -> None:
    def healthy():
        for n in names:
            state = docker_client.api.inspect_container(n)["State"]
            if (state.get("Health") or {}).get("Status") != "healthy":
                return False
        return True

    wait_for(f"{', '.join(names)} healthy", healthy, timeout=timeout, interval=3)


# CI runs the fault suite (tests/faults) beside this one on the same engine;
# its resources are all named faults-* (network agentstream-faults) and are
# its own to clean up.
OTHER_SUITES = ("faults-", "agentstream-faults")


def part_of_leftovers(docker_client) -> list[str]:
    """Every container, volume and network of ours still on the engine
    (the fault suite's excepted)."""
    left = [f"container {c.name}" for c in docker_client.containers.list(all=True, filters={"label": PART_OF})
            if not c.name.startswith(OTHER_SUITES)]
    left += [f"volume {v.name}" for v in docker_client.volumes.list(filters={"label": PART_OF})
             if not v.name.startswith(OTHER_SUITES)]
    left += [f"network {n.name}" for n in docker_client.networks.list(filters={"label": PART_OF})
             if not n.name.startswith(OTHER_SUITES)]
    return left


class RunningMonitor:
    """Samples, every 0.5 s, how many containers of each group are running and
    healthy, so a test can show that a change never took a whole group down."""

    def __init__(self, docker_client, groups: dict[str, list[str]]):
        self.client = docker_client
        self.groups = groups
        self.min_up: dict[str, int] = {g: len(n) for g, n in groups.items()}
        self.seen: dict[str, set] = defaultdict(set)  # container ids per name: replaced ones show up twice
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                running = {}
                # The list API: cheap enough for 2 polls a second. Status reads
                # e.g. "Up 5 seconds (healthy)" or "Up 2 seconds (health: starting)".
                for c in self.client.api.containers(filters={"label": PART_OF}):
                    name = c["Names"][0].lstrip("/")
                    status = c.get("Status", "")
                    running[name] = c.get("State") == "running" and ("(" not in status or "(healthy)" in status)
                    self.seen[name].add(c["Id"])
                for g, names in self.groups.items():
                    self.min_up[g] = min(self.min_up[g], sum(1 for n in names if running.get(n)))
            except Exception:  # noqa: BLE001 - a container vanishing mid-list
                pass
            self._stop.wait(0.5)

    def __enter__(self) -> "RunningMonitor":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def replaced(self, name: str) -> bool:
        return len(self.seen.get(name, ())) > 1


__all__ = [
    "Backend", "RealStack", "Query", "RunningMonitor", "PINNED", "QUERY_PORT", "REMOTE_WRITE_PORT",
    "assert_no_gap", "bucket_blocks", "changes", "gaps", "log", "part_of_leftovers", "run", "wait_all_healthy",
    "wait_for",
]
