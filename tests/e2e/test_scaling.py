"""Receivers scaled 3 -> 5 -> 3 at RF 3 while agents stream, for real.

The real Pulumi engine and docker provider deploy ``programs/scaling`` (every
name ``scale-*``, network ``agentstream-scale``, Query on 127.0.0.1:23902),
then ``receive.replicas`` goes from 3 to 5 and back to 3 with two agents
scraping every 5s. What must hold (issue 9 §4):

* the receivers that stay are never restarted: same container id, same
  StartedAt, no restart, across both changes;
* they read the new hashring in place: ``thanos_receive_hashring_nodes`` is
  the new size, ``thanos_receive_config_last_reload_successful`` is 1 and
  ``thanos_receive_config_hash`` is one new value on every receiver, by the
  time ``pulumi up`` returns (and ``..._hashrings_file_changes_total`` grew);
* a new receiver enters the ring only once it is healthy (the hashring
  writer starts after both new receivers were seen healthy);
* the two receivers removed flush their head and upload it on the way out,
  and those blocks are in the bucket;
* over the whole window, every scraped sample is in the deduplicated view:
  per target, one sample per 5s grid slot (one slot of slack at each edge),
  as many as the agent itself counts scrapes, and every series of the
  targets complete, not only ``up``;
* control: the same checker fails on a view that lacks samples (one removed
  receiver's copy alone).

The tests run in file order and share one deployment; the last destroys it.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from tests.e2e.conftest import (
    Query,
    assert_no_gap,
    bucket_blocks,
    changes,
    docker_time,
    log,
    wait_all_healthy,
    wait_for,
)
from tests.faults.counting import LossError, check, missing_slots
from tests.support.pipeline import gaps
from tests.support.real_stack import REPO, with_health_gates

pytestmark = pytest.mark.e2e

PROGRAM = REPO / "tests" / "e2e" / "programs" / "scaling"
PREFIX = "scale"
NETWORK = "agentstream-scale"
QUERY_PORT = 23902
SCRAPE = 5.0
AGENTS = [f"{PREFIX}-a-agent-0", f"{PREFIX}-b-agent-0"]
TARGETS = [f"{a}:9090" for a in AGENTS]
# The self-monitoring agent: its receive job's targets are a live file.
META = f"{PREFIX}-meta-agent-0"
STORE = f"{PREFIX}-store-0"
SYNC_WRITER = f"{PREFIX}-receive-live-sync"
SEED_WRITER = f"{PREFIX}-receive-live-init"


def receivers(n: int) -> list[str]:
    return [f"{PREFIX}-receive-{i}" for i in range(n)]


def ours(name: str) -> bool:
    return name.startswith(f"{PREFIX}-") or name == NETWORK


def leftovers(client) -> list[str]:
    left = [f"container {c.name}" for c in client.containers.list(all=True, filters={"name": f"{PREFIX}-"}) if ours(c.name)]
    left += [f"volume {v.name}" for v in client.volumes.list(filters={"name": f"{PREFIX}-"}) if ours(v.name)]
    left += [f"network {n.name}" for n in client.networks.list(names=[NETWORK]) if n.name == NETWORK]
    return left


def cleanup(client) -> None:
    """Remove what an earlier, interrupted run left; only ``scale-*`` things."""
    for c in client.containers.list(all=True, filters={"name": f"{PREFIX}-"}):
        if ours(c.name):
            c.remove(force=True)
    for v in client.volumes.list(filters={"name": f"{PREFIX}-"}):
        if ours(v.name):
            v.remove(force=True)
    for n in client.networks.list(names=[NETWORK]):
        if n.name == NETWORK:
            n.remove()


class Scaling:
    def __init__(self, stack, docker_client):
        self.stack = stack
        self.docker = docker_client
        self.q = Query(stack.outputs()["query_url"])
        self.start = 0.0
        self.end = 0.0
        self.scrapes_at_start: dict[str, float] = {}
        self.flush_logs: dict[str, str] = {}
        self.ring_hash = float("nan")  # the config hash of the ring running before

    def scale(self, replicas: int) -> None:
        self.stack.configure({"scale:replicas": replicas})

    def assert_meta_scrapes(self, names: list[str]) -> None:
        """The self-monitoring agent, never restarted, scrapes exactly these
        receivers, all up (removed ones' series end with staleness markers)."""
        want = sorted(f"{n}:10902" for n in names)

        def current():
            got = self.q.query(f'up{{tenant_id="{PREFIX}-meta", job="thanos-receive"}}')
            have = sorted(s["metric"]["instance"] for s in got)
            return have if have == want and all(s["value"][1] == "1" for s in got) else None

        wait_for(f"the self-monitoring agent to scrape {len(names)} receivers", current, timeout=120, interval=5)

    def identity(self, name: str) -> tuple[str, str, int]:
        """What a restart or a replacement would change."""
        attrs = self.docker.api.inspect_container(name)
        return attrs["Id"], attrs["State"]["StartedAt"], attrs["RestartCount"]

    def metrics(self, container: str, port: int) -> str:
        out = self.docker.containers.get(container).exec_run(["wget", "-q", "-O-", f"http://127.0.0.1:{port}/metrics"])
        assert out.exit_code == 0, out.output[-500:]
        return out.output.decode()

    def metric(self, container: str, port: int, name: str, labels: str = "") -> float:
        pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", re.M)
        found = pattern.findall(self.metrics(container, port))
        assert len(found) == 1, f"{container}: {name}{labels}: {found}"
        return float(found[0])

    def ring_state(self, receiver: str) -> dict[str, float]:
        text = self.metrics(receiver, 10902)

        def value(name: str, labels: str = "") -> float:
            m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
            return float(m.group(1)) if m else float("nan")

        return {
            "nodes": value("thanos_receive_hashring_nodes", '{name="default"}'),
            "hash": value("thanos_receive_config_hash"),
            "reload_ok": value("thanos_receive_config_last_reload_successful"),
            "changes": value("thanos_receive_hashrings_file_changes_total"),
        }

    def agent_scrapes(self, agent: str) -> float:
        """Scrapes the agent has made (one target each: itself); 0 before its second."""
        m = re.search(r'^prometheus_target_interval_length_seconds_count\{interval="5s"\} (\S+)$', self.metrics(agent, 9090), re.M)
        return float(m.group(1)) if m else 0.0

    def head_series(self, receiver: str) -> float:
        """Series in a receiver's TSDB heads (every tenant)."""
        found = re.findall(r"^prometheus_tsdb_head_series(?:\{[^}]*\})? (\S+)$", self.metrics(receiver, 10902), re.M)
        return sum(float(v) for v in found)

    def settled(self) -> None:
        wait_for(
            "both targets up in the deduplicated view",
            lambda: (lambda r: len(r) == len(TARGETS) and all(s["value"][1] == "1" for s in r))(
                self.q.query(f'up{{instance=~"{"|".join(TARGETS)}"}}')
            ),
            timeout=300,
        )

    def assert_ring(self, names: list[str], timeout: float = 5) -> dict[str, dict[str, float]]:
        """Every receiver runs the ring of ``names``: that many nodes, the last
        reload successful, and one config hash, the same on all of them and
        different from the previous ring's."""
        ring = self.stack.outputs()["hashring"]
        assert [e.split(":")[0] for e in json.loads(ring)[0]["endpoints"]] == names
        state: dict[str, dict[str, float]] = {}

        def all_loaded():
            state.update({r: self.ring_state(r) for r in names})
            hashes = {s["hash"] for s in state.values()}
            return (
                all(s["nodes"] == len(names) and s["reload_ok"] == 1 for s in state.values())
                and len(hashes) == 1
                and hashes != {self.ring_hash}
            )

        start = time.time()
        try:
            wait_for(f"every receiver on the {len(names)}-receiver ring", all_loaded, timeout=timeout, interval=1)
        finally:
            log(f"ring state per receiver (want nodes={len(names)}, one hash, not {self.ring_hash}) "
                f"{time.time() - start:.1f}s after the up: {state}")
        self.ring_hash = state[names[0]]["hash"]
        return state


class Watch:
    """Polls the engine every 0.5s: when each ``scale-*`` container was first
    seen healthy, and every container id seen per name."""

    def __init__(self, client):
        self.client = client
        self.healthy_at: dict[str, float] = {}
        self.ids: dict[str, set] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                for c in self.client.api.containers(all=True, filters={"name": f"{PREFIX}-"}):
                    name = c["Names"][0].lstrip("/")
                    self.ids.setdefault(name, set()).add(c["Id"])
                    if "(healthy)" in c.get("Status", "") and name not in self.healthy_at:
                        self.healthy_at[name] = time.time()
            except Exception:  # noqa: BLE001 - a container vanishing mid-list
                pass
            self._stop.wait(0.5)

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LogFollower:
    """Collects a container's log until it exits (it is about to be removed)."""

    def __init__(self, client, name: str):
        self.container = client.containers.get(name)
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for chunk in self.container.logs(stream=True, follow=True, since=int(time.time())):
                self.lines.append(chunk.decode(errors="replace"))
        except Exception:  # noqa: BLE001 - removed under us: the log ends
            pass

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


@pytest.fixture(scope="module")
def scaling(backend, docker_client):
    stale = leftovers(docker_client)
    if stale:
        log(f"leftovers of an earlier run: {stale}")
        cleanup(docker_client)
    stack = backend.stack("scaling", {"scale:replicas": 3}, program=PROGRAM)
    try:
        up = stack.up()
        assert up.summary.result == "succeeded"
        s = Scaling(stack, docker_client)
        s.settled()
        yield s
    finally:
        try:
            stack.destroy()
        finally:
            left = leftovers(docker_client)
            if left:
                log(f"after destroy, still there: {left}")
                cleanup(docker_client)


def test_first_up_runs_the_three_receiver_ring(scaling):
    scaling.assert_ring(receivers(3), timeout=60)
    # The seed wrote the ring before the receivers started; the sync writer
    # rewrote it (the same bytes) once all three were healthy.
    for writer in (SEED_WRITER, SYNC_WRITER):
        state = scaling.docker.api.inspect_container(writer)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), (writer, state)
    # Window start: both agents have been streaming for a while (their scrape
    # counter exists from the second scrape on).
    wait_for("the agents' scrape counters", lambda: all(scaling.agent_scrapes(a) > 0 for a in AGENTS), timeout=60, interval=2)
    scaling.start = time.time()
    scaling.scrapes_at_start = {a: scaling.agent_scrapes(a) for a in AGENTS}
    time.sleep(20)


def test_scale_up_restarts_no_receiver_and_new_ones_join_when_healthy(scaling):
    kept = receivers(3)
    before = {n: scaling.identity(n) for n in kept + AGENTS + [META]}
    scaling.scale(5)
    ops, _ = scaling.stack.plan()
    # Nothing the running receivers or agents are made of changes: only the
    # new receivers, the ring's writers (one-shot) and Query (its endpoint
    # list is an uploaded file) move.
    assert not {n: o for n, o in ops.items() if n in with_health_gates(kept + AGENTS + [META])}, ops
    assert ops.get(f"{PREFIX}-receive-3") == ops.get(f"{PREFIX}-receive-4") == "create", ops
    assert ops.get(SYNC_WRITER) == ops.get(SEED_WRITER) == "replace", ops
    with Watch(scaling.docker) as watch:
        up = scaling.stack.up()
    assert up.summary.result == "succeeded"
    log(f"scale-up: {changes(up)}")
    after = {n: scaling.identity(n) for n in kept + AGENTS + [META]}
    log(f"identities (id, StartedAt, RestartCount) before/after: {json.dumps({n: [before[n], after[n]] for n in before})}")
    assert after == before, "a receiver or an agent was restarted or replaced by the scale-up"
    scaling.assert_meta_scrapes(receivers(5))
    assert all(len(watch.ids.get(n, ())) == 1 for n in kept), watch.ids
    # The ring changed only after both new receivers were healthy.
    writer = scaling.docker.api.inspect_container(SYNC_WRITER)["State"]
    assert writer["ExitCode"] == 0, writer
    started = docker_time(writer["StartedAt"])
    new = [f"{PREFIX}-receive-3", f"{PREFIX}-receive-4"]
    log(f"new receivers healthy at {[watch.healthy_at.get(n) for n in new]}, ring writer started at {started:.1f}")
    assert all(n in watch.healthy_at and watch.healthy_at[n] <= started + 0.5 for n in new), (watch.healthy_at, started)
    # And every receiver, old and new, runs the 5-receiver ring when the up
    # returns; the old ones re-read their file (a second load, no restart).
    state = scaling.assert_ring(receivers(5))
    assert all(state[r]["changes"] >= 2 for r in kept), state
    # The new receivers take their share of the writes (their own TSDB heads).
    for n in new:
        wait_for(f"series stored on {n}", lambda n=n: scaling.head_series(n) > 0, timeout=120)
        log(f"{n}: {scaling.head_series(n):.0f} series in its heads")
    time.sleep(30)  # the 5-receiver ring takes writes for a while


def test_scale_down_restarts_no_receiver_and_the_removed_ones_upload_their_head(scaling):
    kept = receivers(3)
    removed = [f"{PREFIX}-receive-3", f"{PREFIX}-receive-4"]
    before = {n: scaling.identity(n) for n in kept + AGENTS + [META]}
    scaling.scale(3)
    ops, _ = scaling.stack.plan()
    assert not {n: o for n, o in ops.items() if n in with_health_gates(kept + AGENTS + [META])}, ops
    assert all(ops.get(n) == "delete" for n in removed), ops
    followers = {n: LogFollower(scaling.docker, n) for n in removed}
    with Watch(scaling.docker) as watch:
        up = scaling.stack.up()
    assert up.summary.result == "succeeded"
    log(f"scale-down: {changes(up)}")
    after = {n: scaling.identity(n) for n in kept + AGENTS + [META]}
    assert after == before, "a receiver or an agent was restarted or replaced by the scale-down"
    scaling.assert_meta_scrapes(kept)
    assert all(len(watch.ids.get(n, ())) == 1 for n in kept), watch.ids
    assert not [c for c in scaling.docker.containers.list(all=True, filters={"name": f"{PREFIX}-receive-"}) if c.name in removed]
    state = scaling.assert_ring(kept)
    assert all(state[r]["changes"] >= 3 for r in kept), state
    # Receive flushed its head into a block and uploaded it on SIGTERM,
    # within the provider's stop grace (destroy_grace_seconds).
    for n, f in followers.items():
        text = f.text()
        scaling.flush_logs[n] = text
        shutdown = [line for line in text.splitlines() if re.search(r"flushed|final cut block|storage is closed", line)]
        log(f"{n} on its way out: {shutdown}")
        assert "storage is flushed successfully" in text, text[-3000:]
        assert "the final cut block was uploaded" in text, text[-3000:]
    blocks = wait_for(
        "the removed receivers' blocks in the bucket",
        lambda: (lambda bs: bs if {b["thanos"]["labels"].get("receive_replica") for b in bs} >= set(removed) else None)(
            bucket_blocks(scaling.docker, STORE)
        ),
        timeout=60,
        interval=5,
    )
    log(f"blocks in the bucket per receiver: "
        f"{sorted((b['thanos']['labels'].get('receive_replica'), b['minTime'], b['maxTime']) for b in blocks)}")
    time.sleep(20)  # the 3-receiver ring takes writes for a while
    scaling.end = time.time()


def test_every_scraped_sample_is_in_the_deduplicated_view(scaling):
    s = scaling
    assert s.start and s.end, "runs after the scaling tests"
    scrapes_at_end = {a: s.agent_scrapes(a) for a in AGENTS}
    time.sleep(30)  # the window's last samples reach Query, Store syncs the bucket (15s)
    window = s.end - s.start
    dedup = s.q.samples(f'up{{instance=~"{"|".join(TARGETS)}"}}', s.start, s.end)
    for agent, target in zip(AGENTS, TARGETS):
        counted = len(dedup.get(target, []))
        # What was scraped, two ways: the grid (one sample per 5s), and the
        # agent's own count of its scrapes over the window (read at its edges).
        grid = window / SCRAPE
        scraped = scrapes_at_end[agent] - s.scrapes_at_start[agent]
        log(f"{target}: {counted} samples in the deduplicated view over {window:.0f}s; "
            f"expected {grid:.1f} by the 5s grid, {scraped:.0f} scrapes by the agent's counter; "
            f"longest gap {gaps(dedup.get(target, []), s.start, s.end):.1f}s")
        assert abs(counted - grid) <= 2, (target, counted, grid)  # one slot at each edge
        assert abs(counted - scraped) <= 2, (target, counted, scraped)
    # The grid check, slot by slot, raw (per receive replica union) and
    # deduplicated, with one slot of slack at each edge and no excess.
    # (Each agent scrapes only itself here: one target, one agent per check.)
    for agent, target in zip(AGENTS, TARGETS):
        counts = check(s.q, f'up{{instance="{target}"}}', s.start, s.end, [target], [agent], interval=SCRAPE)
        log(f"totals for {target}: {counts.totals()}")
    assert_no_gap(s.q, f'up{{instance=~"{"|".join(TARGETS)}"}}', TARGETS, s.start, s.end, SCRAPE)
    # Not only `up`: every series of the two targets (the agents' own
    # metrics, spread over all five receivers by the ring) is complete.
    width = int(window) + 1
    complete = incomplete = 0
    problems = []
    # Stored, whatever deduplication shows: the union over receive replicas
    # (and the bucket) of each series' samples.
    stored: dict[str, set[float]] = {}
    names: dict[str, tuple] = {}
    for series in s.q.query(f'{{instance=~"{"|".join(TARGETS)}"}}[{width}s]', dedup=False, time=s.end):
        labels = {k: v for k, v in series["metric"].items() if k != "receive_replica"}
        key = json.dumps(labels, sort_keys=True)
        names[key] = (labels.get("__name__"), labels.get("instance"))
        stored.setdefault(key, set()).update(float(t) for t, _ in series["values"])
    for key, all_ts in stored.items():
        ts = sorted(t for t in all_ts if s.start < t <= s.end)
        # Only series that existed over the whole window (a remote-write shard
        # or a histogram bucket may be born in it).
        if not ts or ts[0] > s.start + 2 * SCRAPE or ts[-1] < s.end - 2 * SCRAPE:
            incomplete += 1
            continue
        complete += 1
        missing = missing_slots(ts, s.start, s.end, SCRAPE)
        if missing:
            problems.append((*names[key], len(missing)))
    log(f"series over the whole window: {complete} checked slot by slot, {incomplete} born or gone inside it; "
        f"with missing samples: {problems[:10]}")
    assert complete > 200, complete
    assert not problems, problems


def test_control_the_checker_fails_on_a_view_missing_samples(scaling):
    """The removed receivers' copies alone (now in the bucket) cover only the
    time they were in the ring: the same checker must report them incomplete.
    """
    s = scaling
    # Every series of the targets, as the two removed receivers held them.
    copy = f'{{instance=~"{"|".join(TARGETS)}",receive_replica=~"{PREFIX}-receive-3|{PREFIX}-receive-4"}}'
    served = s.q.query(f"{copy}[{int(s.end - s.start)}s]", dedup=False, time=s.end)
    log(f"control: {len(served)} series of the removed receivers served, targets {sorted({x['metric']['instance'] for x in served})}")
    assert served, "the removed receivers' copies are served"
    # One series (a name with a single series per target: `up` when they hold it).
    per_name: dict[tuple, int] = {}
    for x in served:
        key = (x["metric"]["__name__"], x["metric"]["instance"])
        per_name[key] = per_name.get(key, 0) + (1 if x["metric"]["receive_replica"].endswith("-3") else 0)
    single = sorted((k for k, n in per_name.items() if n == 1), key=lambda k: (k[0] != "up", k))
    name, target = single[0]
    agent = AGENTS[TARGETS.index(target)]
    one = f'{name}{{instance="{target}",receive_replica=~"{PREFIX}-receive-3|{PREFIX}-receive-4"}}'
    with pytest.raises(LossError) as lost:
        check(s.q, one, s.start, s.end, [target], [agent], interval=SCRAPE, views=("raw",), verbose=False)
    log(f"control on {one}: {str(lost.value).splitlines()[1:3]}")
    assert "LOST" in str(lost.value)
    # The full view over the same window still passes (nothing changed since).
    for agent, target in zip(AGENTS, TARGETS):
        check(s.q, f'up{{instance="{target}"}}', s.start, s.end, [target], [agent], interval=SCRAPE, verbose=False)


def test_destroy_leaves_nothing(scaling, docker_client):
    scaling.stack.destroy()
    assert scaling.stack.resource_states() == []
    assert leftovers(docker_client) == []
