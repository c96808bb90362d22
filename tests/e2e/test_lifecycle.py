"""Changes to a running pipeline, through the real engine: what `pulumi
preview --diff` plans, what `pulumi up` does to the running containers, and
what the deduplicated view shows across it.

One deployment of the dev stack, changed step by step (the tests run in file
order); the last test destroys it.
"""

from __future__ import annotations

import json
import time

import pytest
from pulumi.automation import errors as auto_errors

from agentstream import versions
from agentstream.targets.docker import HEALTH_INTERVAL_SECONDS, _slug  # _slug: the RemoteImage naming rule itself
from tests.e2e.conftest import (
    PINNED,
    Query,
    RunningMonitor,
    assert_no_gap,
    changes,
    log,
    part_of_leftovers,
    started_at,
    wait_all_healthy,
    wait_for,
)
from tests.support.real_stack import shipped_config, with_health_gates

pytestmark = pytest.mark.e2e

SCRAPE = 5.0
AGENTS = {f: [f"{f}-agent-0", f"{f}-agent-1"] for f in ("batmobile", "batcopter")}
RECEIVERS = [f"central-receive-{i}" for i in range(3)]
BUMPED_PROMETHEUS = f"agentstream.e2e/prometheus:{versions.PROMETHEUS_VERSION}-bump"


class Life:
    def __init__(self, stack, docker_client):
        self.stack = stack
        self.docker = docker_client
        self.config = shipped_config("dev")
        self.q = Query(stack.outputs()["query_url"])

    def fleet(self, name: str) -> dict:
        return next(f for f in self.config["agentstream:fleets"] if f["name"] == name)

    def apply(self, groups: dict[str, list[str]]) -> tuple[RunningMonitor, float, float]:
        """`pulumi up` of the current config while watching the groups' containers."""
        self.stack.configure(self.config)
        start = time.time()
        with RunningMonitor(self.docker, groups) as mon:
            up = self.stack.up()
        assert up.summary.result == "succeeded"
        log(f"fewest running+healthy per group during the up: {mon.min_up}")
        return mon, start, time.time()

    def settled(self):
        for fleet, agents in AGENTS.items():
            wait_for(
                f"every {fleet} target up in the deduplicated view",
                lambda: (lambda r: len(r) == len(agents) and all(s["value"][1] == "1" for s in r))(
                    self.q.query(f'up{{cluster="{fleet}"}}')
                ),
                timeout=180,
            )

    def agent_config(self, agent: str) -> str:
        out = self.docker.containers.get(agent).exec_run(
            ["wget", "-q", "-O-", "http://127.0.0.1:9090/api/v1/status/config"]
        )
        assert out.exit_code == 0, out.output
        return out.output.decode()


@pytest.fixture(scope="module")
def life(backend, docker_client):
    stack = backend.stack("lifecycle", shipped_config("dev"))
    stack.up()
    life = Life(stack, docker_client)
    life.settled()
    yield life
    stack.destroy()


def _start_spread(docker_client, group: list[str]) -> list[float]:
    """Seconds from the group's first start to each member's start."""
    starts = sorted(started_at(docker_client, n) for n in group)
    return [round(t - starts[0], 2) for t in starts]


def test_the_first_up_started_each_workloads_instances_together(life):
    """Nothing ran before, so no instance waited for another to be healthy
    (a chained one starts at least one health interval after the one
    before it: its first check runs one interval after the start). First in
    the file: later tests replace these containers."""
    for group in (RECEIVERS, *AGENTS.values()):
        spread = _start_spread(life.docker, group)
        log(f"first up: {group} started at +{spread}s")
        assert spread[-1] < HEALTH_INTERVAL_SECONDS, (group, spread)


def test_scrape_interval_change_rolls_the_fleet(life):
    life.fleet("batmobile")["scrapeInterval"] = "10s"
    life.stack.configure(life.config)
    ops, preview = life.stack.plan()
    # Exactly the two batmobile agents are replaced (their config file is an
    # upload, which Docker cannot change in place); nothing else moves.
    assert ops == {a: "replace" for a in with_health_gates(AGENTS["batmobile"])}, ops
    # The diff shows the change inside the uploaded prometheus.yml.
    assert 'scrape_interval: "5s" => "10s"' in preview.stdout, preview.stdout[-3000:]
    mon, _, _ = life.apply({"batmobile": AGENTS["batmobile"]})
    assert all(mon.replaced(a) for a in AGENTS["batmobile"])
    # One at a time: a batmobile agent was running and healthy throughout.
    assert mon.min_up["batmobile"] >= 1, mon.min_up
    for agent in AGENTS["batmobile"]:
        assert "scrape_interval: 10s" in life.agent_config(agent), agent
    life.settled()


def test_rolling_change_leaves_no_gap_in_the_global_view(life):
    """A change that replaces both agents of a fleet, with the interval kept,
    so the deduplicated view must have a sample every interval throughout."""
    life.fleet("batcopter")["walRetention"] = "5h"
    mon, start, end = life.apply({"batcopter": AGENTS["batcopter"]})
    assert all(mon.replaced(a) for a in AGENTS["batcopter"])
    assert mon.min_up["batcopter"] >= 1, mon.min_up
    time.sleep(15)  # the last scrapes of the window reach Query
    targets = [f"{a}:9090" for a in AGENTS["batcopter"]]
    assert_no_gap(life.q, 'up{cluster="batcopter"}', targets, start - 5, end + 5, SCRAPE)


def test_gap_checker_control_catches_a_stopped_fleet(life):
    """Control: both agents of a fleet down for 25s is a gap the checker reports."""
    start = time.time()
    for a in AGENTS["batcopter"]:
        life.docker.containers.get(a).stop(timeout=10)
    time.sleep(25)
    for a in AGENTS["batcopter"]:
        life.docker.containers.get(a).start()
    wait_all_healthy(life.docker, AGENTS["batcopter"])
    end = time.time()
    time.sleep(15)
    targets = [f"{a}:9090" for a in AGENTS["batcopter"]]
    with pytest.raises(AssertionError, match="gaps longer than"):
        assert_no_gap(life.q, 'up{cluster="batcopter"}', targets, start, end, SCRAPE)


def test_receive_setting_change_rolls_the_ring_with_quorum(life):
    life.config["agentstream:receive"] = {**life.config["agentstream:receive"], "retention": "5h"}
    life.stack.configure(life.config)
    ops, preview = life.stack.plan()
    assert ops == {r: "replace" for r in with_health_gates(RECEIVERS)}, ops
    assert "--tsdb.retention=5h" in preview.stdout
    mon, start, end = life.apply({"receive": RECEIVERS})
    assert all(mon.replaced(r) for r in RECEIVERS)
    # RF 3 needs 2 receivers for a write quorum: never fewer were running.
    assert mon.min_up["receive"] >= 2, mon.min_up
    # The running ring is chained: each replacement started once the one
    # before was healthy, at least one health interval later (the control
    # for the first up's test: a spread that test would refuse).
    spread = _start_spread(life.docker, RECEIVERS)
    log(f"rolled ring: {RECEIVERS} started at +{spread}s")
    assert all(b - a >= HEALTH_INTERVAL_SECONDS - 0.5 for a, b in zip(spread, spread[1:])), spread
    life.settled()
    time.sleep(20)
    for fleet, agents in AGENTS.items():
        interval = 10.0 if fleet == "batmobile" else SCRAPE
        assert_no_gap(life.q, f'up{{cluster="{fleet}"}}', [f"{a}:9090" for a in agents], start - 5, end + 5, interval)


def test_failed_up_fails_fast_and_changes_nothing_running(life):
    """An image tag that does not exist: the provider's error, quickly, and the
    running agents are untouched; the corrected config then applies cleanly."""
    before = {a: life.docker.containers.get(a).id for agents in AGENTS.values() for a in agents}
    life.config["agentstream:images"] = {"prometheus": "agentstream.e2e/prometheus:does-not-exist"}
    life.stack.configure(life.config)
    start = time.time()
    with pytest.raises(auto_errors.CommandError) as failed:
        life.stack.up()
    took = time.time() - start
    message = str(failed.value)
    log(f"failed up after {took:.1f}s")
    assert took < 180, took
    assert "agentstream.e2e/prometheus:does-not-exist" in message
    assert "error" in message.lower()
    after = {a: life.docker.containers.get(a).id for a in before}
    assert after == before, "a failed up replaced running agents"
    assert all(life.docker.containers.get(a).status == "running" for a in before)

    del life.config["agentstream:images"]
    life.stack.configure(life.config)
    fixed = life.stack.up()
    assert changes(fixed) == {}, fixed.summary.resource_changes


def test_image_tag_bump_replaces_its_containers_one_at_a_time(life, docker_client):
    docker_client.images.get(PINNED["prometheus"]).tag(BUMPED_PROMETHEUS)
    try:
        life.config["agentstream:images"] = {"prometheus": BUMPED_PROMETHEUS}
        life.stack.configure(life.config)
        ops, _ = life.stack.plan()
        # Every agent runs the image: the fleets' and the self-monitoring one.
        agents = [a for group in AGENTS.values() for a in group] + ["meta-agent-0"]
        gated = with_health_gates(agents)
        assert {n: o for n, o in ops.items() if n in gated} == {a: "replace" for a in gated}, ops
        # A new RemoteImage for the new tag, the old one goes; the one-shot
        # containers run the image too: the volume-init ones, and the
        # self-monitoring agent's live-file writers (its scrape targets are a
        # live file); nothing else changes.
        one_shot = {n for n in ops if n.endswith("-volume-init")} | {"meta-agent-live-init", "meta-agent-live-sync"}
        assert {n: ops.get(n) for n in one_shot} == {n: "replace" for n in one_shot}, ops
        others = {n for n in ops if n not in gated and n not in one_shot}
        assert others == {
            f"docker-image-{_slug(BUMPED_PROMETHEUS)}", f"docker-image-{_slug(PINNED['prometheus'])}"
        }, ops
        mon, _, _ = life.apply(dict(AGENTS))
        assert all(v >= 1 for v in mon.min_up.values()), mon.min_up
        for a in agents:
            assert life.docker.containers.get(a).image.id == docker_client.images.get(BUMPED_PROMETHEUS).id
        life.settled()
    finally:
        del life.config["agentstream:images"]
        life.stack.configure(life.config)
        life.stack.up()
        docker_client.images.remove(BUMPED_PROMETHEUS, noprune=True)


def test_more_receivers_join_the_ring_without_loss(life):
    life.config["agentstream:receive"] = {**life.config["agentstream:receive"], "replicas": 4}
    life.stack.configure(life.config)
    ops, preview = life.stack.plan()
    assert ops.get("central-receive-3") == "create", ops
    assert ops.get("central-receive-3-data") == "create", ops
    # The new hashring reaches the running receivers in place (a live file,
    # rewritten on their volume by the one-shot writers): none is replaced.
    assert not {r: ops[r] for r in with_health_gates(RECEIVERS) if r in ops}, ops
    assert ops.get("central-receive-live-sync") == "replace", ops
    assert "central-receive-3:10901" in preview.stdout
    mon, start, end = life.apply({"receive": RECEIVERS + ["central-receive-3"]})
    assert not any(mon.replaced(r) for r in RECEIVERS), mon.seen
    ring = json.loads(life.stack.outputs()["hashring"])
    assert [e.split(":")[0] for e in ring[0]["endpoints"]] == RECEIVERS + ["central-receive-3"]
    # The new receiver takes writes: series with its replica label arrive.
    wait_for(
        "series written through central-receive-3",
        lambda: life.q.query('count(up{receive_replica="central-receive-3"})', dedup=False),
        timeout=180,
    )
    life.settled()
    time.sleep(20)
    for fleet, agents in AGENTS.items():
        interval = 10.0 if fleet == "batmobile" else SCRAPE
        assert_no_gap(life.q, f'up{{cluster="{fleet}"}}', [f"{a}:9090" for a in agents], start - 5, end + 5, interval)


def test_destroy_leaves_nothing(life, docker_client):
    life.stack.destroy()
    assert life.stack.resource_states() == []
    assert part_of_leftovers(docker_client) == []
