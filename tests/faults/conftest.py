"""The fault suite: a real pipeline on Docker, broken on purpose.

``pytest -m faults tests/faults`` deploys ``programs/pipeline`` (built from
the Python API, every name ``faults-*``, network ``agentstream-faults``,
Query on 127.0.0.1:21902) once per module with the real engine, injects
faults with the Docker API (kill, stop, network disconnect, a full disk) and
counts what came through with ``counting.check``.

Only containers, volumes and networks named ``faults-*`` /
``agentstream-faults`` are ever touched, created or removed, so other stacks
on the same engine are left alone.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

# The e2e suite's session fixtures: the Docker client (with the pinned
# images) and the file state backend (destroys leftover stacks at the end).
from tests.e2e.conftest import backend, docker_client, wait_all_healthy  # noqa: F401
from agentstream.config.prometheus import AGENT_PORT
from tests.faults.blocks import Overlap, classify, overlaps_in_verify_log, unexplained, verify_problems
from tests.faults.counting import ScrapeClock, skipped_scrapes
from tests.support.pipeline import Query, json_stream, wait_for
from tests.support.real_stack import REPO, log

PROGRAM = REPO / "tests" / "faults" / "programs" / "pipeline"
PREFIX = "faults"
NETWORK = "agentstream-faults"
QUERY_PORT = 21902
CONTROL_QUERY_PORT = 21912
SCRAPE_SECONDS = 5.0
THANOS_UID = "1001"
RECEIVERS = [f"{PREFIX}-receive-{i}" for i in range(3)]
FLEETS = {f"{PREFIX}-a": [f"{PREFIX}-a-agent-0", f"{PREFIX}-a-agent-1"],
          f"{PREFIX}-b": [f"{PREFIX}-b-agent-0", f"{PREFIX}-b-agent-1"]}
AGENTS = [a for agents in FLEETS.values() for a in agents]
OBJSTORE = f"{PREFIX}-objstore-seaweedfs-0"
STORE = f"{PREFIX}-store-0"
COMPACT = f"{PREFIX}-compact-0"
CONTROL_RECEIVERS = [f"{PREFIX}-rf1-receive-{i}" for i in range(2)]
CONTROL_FLEET = {f"{PREFIX}-c": [f"{PREFIX}-c-agent-0"]}
ALL_AGENTS = AGENTS + [a for agents in CONTROL_FLEET.values() for a in agents]
# The receiver whose data volume is a small tmpfs (the disk-full test).
SMALL_DISK_RECEIVER = RECEIVERS[2]
# Small, but not below what a block write needs: Prometheus preallocates
# each chunk segment file at 512MiB, so a smaller volume never cuts a block
# ("persist head block: preallocate: no space left on device", seen at 128m).
SMALL_DISK_SIZE = "1536m"
RECEIVE_DATA_DIR = "/var/thanos/receive"
OBJSTORE_FILE = "/etc/thanos/objstore.yml"
# Every scrape observes the time since its loop's previous one: the agent's
# own witness of ticks it skipped (counting.skipped_scrapes).
SCRAPE_CLOCK = "prometheus_target_interval_length_seconds"


def outage_seconds() -> int:
    """R2's outage length: 3 minutes, or AGENTSTREAM_FAULT_OUTAGE_SECONDS."""
    return int(os.environ.get("AGENTSTREAM_FAULT_OUTAGE_SECONDS", "180"))


def ours(name: str) -> bool:
    return name.startswith(f"{PREFIX}-") or name == NETWORK


_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition: ``name{labels}`` -> value."""
    out = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def metric_sum(metrics: dict[str, float], name: str, **labels: str) -> float:
    """The sum of every series of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in metrics.items():
        if key == name or key.startswith(name + "{"):
            if all(f'{k}="{v}"' in key for k, v in labels.items()):
                total += value
    return total


class Pipeline:
    """The deployed fault-suite stack and the Docker handles to break it."""

    def __init__(self, stack, docker_client):
        self.stack = stack
        self.docker = docker_client
        out = stack.outputs()
        self.q = Query(out["query_url"])
        self.control_q = Query(out["control_query_url"])
        assert out["fleets"] == FLEETS, out["fleets"]
        assert out["control_fleets"] == CONTROL_FLEET, out["control_fleets"]
        self.timers: list[threading.Timer] = []
        self.disconnected: set[str] = set()
        self.clocks: dict[str, list[ScrapeClock]] = {}
        self._closing = threading.Event()

    # -- the agents' scrape clocks -------------------------------------------
    def scrape_clock(self, agent: str) -> Optional[ScrapeClock]:
        """The agent's own account of its scrapes, read now; None while it
        cannot answer (stopped, restarting)."""
        try:
            m = self.metrics(agent, port=AGENT_PORT)
        except Exception:  # noqa: BLE001 - no reading this time
            return None
        interval = f"{SCRAPE_SECONDS:g}s"
        return ScrapeClock(
            at=time.time(),
            sum=metric_sum(m, f"{SCRAPE_CLOCK}_sum", interval=interval),
            count=metric_sum(m, f"{SCRAPE_CLOCK}_count", interval=interval),
            started=metric_sum(m, "process_start_time_seconds"),
        )

    def watch_scrape_clocks(self, every: float = 5.0) -> None:
        """Read every agent's scrape clock every ``every`` seconds until the
        suite ends, so any window's skipped ticks can be told afterwards."""
        def run():
            while not self._closing.wait(every):
                for agent in ALL_AGENTS:
                    c = self.scrape_clock(agent)
                    if c is not None:
                        self.clocks.setdefault(agent, []).append(c)

        threading.Thread(target=run, daemon=True, name="scrape-clocks").start()

    def skipped_scrapes(self, start: float, end: float) -> dict[str, int]:
        """Per agent, the ticks its scrape loops skipped from its last clock
        read before ``start`` to its first after ``end`` (the latest if none
        is yet), where it has both and did not restart in between."""
        out = {}
        for agent, clocks in list(self.clocks.items()):
            before = [c for c in clocks if c.at <= start]
            after = [c for c in clocks if c.at >= end] or clocks[-1:]
            if before and after:
                n = skipped_scrapes(before[-1], after[0], SCRAPE_SECONDS)
                if n:
                    out[agent] = n
        return out

    def close(self) -> None:
        self._closing.set()
        for t in self.timers:
            t.cancel()

    # -- containers ---------------------------------------------------------
    def container(self, name: str):
        assert ours(name), name
        return self.docker.containers.get(name)

    def kill(self, name: str) -> float:
        log(f"docker kill {name} (SIGKILL)")
        self.container(name).kill()
        return time.time()

    def stop(self, name: str, timeout: int = 30) -> float:
        log(f"docker stop {name}")
        self.container(name).stop(timeout=timeout)
        return time.time()

    def start(self, name: str) -> float:
        log(f"docker start {name}")
        self.container(name).start()
        return time.time()

    def restart(self, name: str, timeout: int = 30) -> tuple[float, float]:
        """``docker restart``: (when asked, when it runs again)."""
        log(f"docker restart {name}")
        t0 = time.time()
        self.container(name).restart(timeout=timeout)
        return t0, time.time()

    def running(self, name: str) -> bool:
        return self.container(name).status == "running"

    def wait_healthy(self, names: list[str], timeout: float = 240) -> None:
        wait_all_healthy(self.docker, names, timeout=timeout)

    def exec(self, name: str, cmd: list[str], user: Optional[str] = None) -> tuple[int, str, str]:
        out = self.container(name).exec_run(cmd, demux=True, user=user or "")
        stdout, stderr = (part.decode(errors="replace") if part else "" for part in out.output)
        return out.exit_code, stdout, stderr

    def metrics(self, name: str, port: int = 10902) -> dict[str, float]:
        """The process's own /metrics, read from inside its container
        (receivers publish no port; wget is in the busybox-based images)."""
        code, out, err = self.exec(name, ["wget", "-q", "-O", "-", f"http://127.0.0.1:{port}/metrics"])
        assert code == 0, f"metrics of {name}: {err[-500:]}"
        return parse_metrics(out)

    def logs_since(self, name: str, since: float) -> str:
        return self.container(name).logs(since=int(since)).decode(errors="replace")

    # -- network ------------------------------------------------------------
    def disconnect(self, name: str) -> None:
        log(f"docker network disconnect {NETWORK} {name}")
        self.docker.networks.get(NETWORK).disconnect(name)
        self.disconnected.add(name)

    def connect(self, name: str) -> None:
        log(f"docker network connect {NETWORK} {name} (aliases {name.rsplit('-', 1)[0]}, {name})")
        # The aliases the Docker target gave it: the workload and the instance.
        self.docker.networks.get(NETWORK).connect(name, aliases=[name.rsplit("-", 1)[0], name])
        self.disconnected.discard(name)

    # -- timers -------------------------------------------------------------
    def after(self, seconds: float, what: str, fn: Callable[[], Any]) -> threading.Timer:
        def run():
            log(f"timer: {what}")
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - reported; the test that waits for it fails
                log(f"timer {what} failed: {e!r}")

        t = threading.Timer(seconds, run)
        t.daemon = True
        t.start()
        self.timers.append(t)
        return t

    # -- bucket -------------------------------------------------------------
    def bucket(self, *args: str, timeout: int = 600) -> tuple[int, str, str]:
        """``thanos tools bucket <args>`` with the deployed objstore config,
        run in our Store gateway's container (as bucket_blocks() does)."""
        return self.exec(STORE, ["thanos", "tools", "bucket", *args, f"--objstore.config-file={OBJSTORE_FILE}"])

    def bucket_blocks(self) -> list[dict]:
        code, out, err = self.bucket("ls", "-o", "json")
        assert code == 0, err[-2000:]
        return json_stream(out)

    def verify_bucket(self) -> tuple[str, list[Overlap], dict[str, dict]]:
        """``thanos tools bucket verify`` for every issue it knows, without
        repairing. Raises if it exits non-zero, reports anything but
        overlapping blocks (a broken index, a duplicated block), or an
        overlap no out-of-order block explains (blocks.py says why some
        overlap by design). Returns its log, the overlaps it reported, each
        classified, and the block metas by ULID."""
        code, out, err = self.bucket(
            "verify", "--issues=overlapped_blocks", "--issues=index_known_issues", "--issues=duplicated_compaction"
        )
        text = out + err
        log(f"bucket verify exited {code}:\n" + text[-3000:])
        assert code == 0, f"thanos tools bucket verify exited {code}:\n{text[-3000:]}"
        problems = verify_problems(text)
        assert not problems, "thanos tools bucket verify found issues:\n" + "\n".join(problems[-20:])
        metas = {m["ulid"]: m for m in self.bucket_blocks()}
        overlaps = classify(overlaps_in_verify_log(text), metas.values())
        for o in overlaps:
            log(("overlap (out-of-order block; vertical compaction merges it): " if o.out_of_order
                 else "OVERLAP no out-of-order block explains: ") + o.describe(metas))
        bad = unexplained(overlaps)
        assert not bad, "the bucket has overlapping blocks no out-of-order block explains:\n" + "\n".join(
            o.describe(metas) for o in bad)
        return text, overlaps, metas

    # -- receive TSDB -------------------------------------------------------
    def tenants(self, receiver: str) -> list[str]:
        code, out, _ = self.exec(receiver, ["ls", RECEIVE_DATA_DIR])
        assert code == 0
        return [d for d in out.split() if not d.startswith(".") and d != "lost+found" and "." not in d]

    def local_blocks(self, receiver: str) -> dict[str, list[str]]:
        """Block directories (ULIDs with a meta.json) per tenant."""
        blocks: dict[str, list[str]] = {}
        for tenant in self.tenants(receiver):
            code, out, _ = self.exec(receiver, ["sh", "-c", f"ls -d {RECEIVE_DATA_DIR}/{tenant}/*/meta.json 2>/dev/null"])
            blocks[tenant] = sorted(p.split("/")[-2] for p in out.split())
        return blocks

    def shipped(self, receiver: str, tenant: str) -> list[str]:
        import json

        code, out, _ = self.exec(receiver, ["cat", f"{RECEIVE_DATA_DIR}/{tenant}/thanos.shipper.json"])
        return json.loads(out).get("uploaded") or [] if code == 0 and out.strip() else []

    def latest(self, q: Query, selector: str) -> dict[str, float]:
        """Newest raw sample per (instance, prometheus_replica) in the last minute."""
        out = {}
        for s in q.query(f"{selector}[60s]", dedup=False):
            key = f"{s['metric'].get('instance')} by {s['metric'].get('prometheus_replica')}"
            out[key] = max(out.get(key, 0.0), max(float(t) for t, _ in s["values"]))
        return out

    def wait_caught_up(self, q: Query, selector: str, n: int, lag: float = 15, timeout: float = 300) -> None:
        """Until every one of the ``n`` (target, agent) pairs has a sample
        newer than ``lag`` seconds: the agents have sent their backlog."""
        def ok():
            latest = self.latest(q, selector)
            now = time.time()
            return len(latest) >= n and all(now - t < lag for t in latest.values())

        wait_for(f"{selector}: every agent's samples up to date", ok, timeout=timeout, interval=5)


def precreate_small_volume(client, name: str, size: str) -> None:
    """The receiver's data volume as a small tmpfs, created before `pulumi up`.

    The Docker target names a receiver's volume ``<instance>-data``; the
    engine answers a create for an existing name with that volume, so the
    stack's Volume adopts this one (and `pulumi destroy` removes it). uid/gid
    make it the Thanos user's: a tmpfs is fresh at every mount, so the
    volume-init container's chown would not stay.
    """
    import docker

    try:
        client.volumes.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    client.volumes.create(
        name=name,
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={size},uid={THANOS_UID},gid={THANOS_UID},mode=0770"},
        labels={"app.kubernetes.io/part-of": "agentstream", "app.kubernetes.io/instance": name.rsplit("-", 1)[0]},
    )
    log(f"pre-created volume {name}: tmpfs of {size}")


def leftovers(client) -> list[str]:
    """Every container, volume and network of this suite still on the engine."""
    left = [f"container {c.name}" for c in client.containers.list(all=True, filters={"name": f"{PREFIX}-"}) if ours(c.name)]
    left += [f"volume {v.name}" for v in client.volumes.list(filters={"name": f"{PREFIX}-"}) if ours(v.name)]
    left += [f"network {n.name}" for n in client.networks.list(names=[NETWORK]) if n.name == NETWORK]
    return left


def cleanup(client) -> None:
    """Remove whatever of ours a failed destroy left (by name only)."""
    for c in client.containers.list(all=True, filters={"name": f"{PREFIX}-"}):
        if ours(c.name):
            log(f"cleanup: removing container {c.name}")
            c.remove(force=True, v=True)
    for v in client.volumes.list(filters={"name": f"{PREFIX}-"}):
        if ours(v.name):
            log(f"cleanup: removing volume {v.name}")
            v.remove(force=True)
    for n in client.networks.list(names=[NETWORK]):
        if n.name == NETWORK:
            log(f"cleanup: removing network {n.name}")
            n.remove()


@pytest.fixture(scope="module")
def pipeline(backend, docker_client):  # noqa: F811 - the imported fixtures
    """The fault suite's stack, deployed once per module, destroyed after it."""
    stale = leftovers(docker_client)
    if stale:
        log(f"leftovers of an earlier run: {stale}")
        cleanup(docker_client)
    precreate_small_volume(docker_client, f"{SMALL_DISK_RECEIVER}-data", SMALL_DISK_SIZE)
    stack = backend.stack("faults", {"faults:network": NETWORK, "faults:queryPort": QUERY_PORT}, program=PROGRAM)
    p = None
    try:
        up = stack.up()
        assert up.summary.result == "succeeded"
        p = Pipeline(stack, docker_client)
        p.watch_scrape_clocks()
        yield p
    finally:
        if p is not None:
            p.close()
            # Put back what a failed test may have left broken, so the
            # destroy runs as it would on a healthy stack.
            for name in list(p.disconnected):
                try:
                    p.connect(name)
                except Exception as e:  # noqa: BLE001
                    log(f"reconnect {name}: {e!r}")
        try:
            stack.destroy()
        finally:
            left = leftovers(docker_client)
            if left:
                log(f"after destroy, still there: {left}")
                cleanup(docker_client)
        assert leftovers(docker_client) == []
