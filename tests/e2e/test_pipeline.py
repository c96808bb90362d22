"""The dev stack, for real: `pulumi up` with the real engine and docker
provider; agents -> receive (RF 3) -> SeaweedFS -> store, via query.

The stack is ``Pulumi.dev.yaml`` with two test settings: 1m blocks (so
receive cuts and uploads one within ~2 minutes; 2h in production) and a 15s
bucket sync. The tests run in file order and share one deployment; the last
one destroys it with `pulumi destroy`.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
import yaml

from agentstream import versions
from agentstream.validation import duration_seconds
from tests.e2e.conftest import (
    PINNED,
    QUERY_PORT,
    REMOTE_WRITE_PORT,
    Query,
    bucket_blocks,
    changes,
    push_samples,
    log,
    part_of_leftovers,
    wait_all_healthy,
    wait_for,
)
from tests.faults.counting import LossError, check
from tests.support.real_stack import shipped_config

pytestmark = pytest.mark.e2e

BLOCK_DURATION = "1m"


def e2e_config() -> dict:
    """Pulumi.dev.yaml with short blocks; the images are the pinned ones."""
    cfg = shipped_config("dev")
    cfg["agentstream:receive"] = {**cfg["agentstream:receive"], "blockDuration": BLOCK_DURATION, "bucketSyncInterval": "15s"}
    return cfg


class Pipeline:
    def __init__(self, stack, docker_client):
        self.stack = stack
        self.outputs = stack.outputs()
        self.q = Query(self.outputs["query_url"])
        self.fleets = self.outputs["fleets"]
        self.docker = docker_client

    def query(self, *a, **kw):
        return self.q.query(*a, **kw)

    def file_in(self, container: str, path: str) -> str:
        out = self.docker.containers.get(container).exec_run(["cat", path])
        assert out.exit_code == 0, out.output
        return out.output.decode()

    @property
    def objstore(self) -> dict:
        return yaml.safe_load(self.file_in("central-receive-0", "/etc/thanos/objstore.yml"))["config"]

    def containers(self) -> list[str]:
        return sorted(
            r["outputs"]["name"]
            for r in self.stack.resource_states()
            # The servers, not the one-shot volume-init and live-file writer containers.
            if r["type"] == "docker:index/container:Container"
            and not r["outputs"]["name"].endswith(("-volume-init", "-live-init", "-live-sync"))
        )


@pytest.fixture(scope="module")
def pipeline(backend, docker_client):
    stack = backend.stack("dev", e2e_config())
    up = stack.up()
    assert up.summary.result == "succeeded"
    p = Pipeline(stack, docker_client)
    p.first_up = up
    yield p
    stack.destroy()  # idempotent; test_destroy_leaves_nothing already did it when it ran


def _run_once(client, image: str, args: list[str]) -> str:
    container = client.containers.run(image, args, detach=True)
    try:
        container.wait(timeout=60)
        return container.logs(stdout=True, stderr=True).decode()
    finally:
        container.remove(force=True, v=True)  # and the image's anonymous VOLUMEs


def test_images_are_the_pinned_versions(docker_client):
    out = _run_once(docker_client, PINNED["prometheus"], ["--version"])
    assert f"version {versions.PROMETHEUS_VERSION.lstrip('v')}" in out
    out = _run_once(docker_client, PINNED["thanos"], ["--version"])
    assert versions.THANOS_VERSION.lstrip("v") in out
    out = _run_once(docker_client, PINNED["seaweedfs"], ["version"])
    assert f" {versions.SEAWEEDFS_VERSION} " in out


def test_first_up_creates_everything_and_runs_it(pipeline, docker_client):
    created = changes(pipeline.first_up)
    assert set(created) == {"create"}, created
    # Every container the state says is running is, under its own name.
    names = pipeline.containers()
    assert len(names) == 3 + 1 + 1 + 1 + 1 + 4 + 1, names  # receive, query, store, compact, seaweedfs, 4 agents, meta
    for n in names:
        assert docker_client.containers.get(n).status == "running", n
    # The containers run the image the RemoteImage resolved (the pinned one).
    images = {r["outputs"]["name"]: r["outputs"]["imageId"] for r in pipeline.stack.resource_states()
              if r["type"] == "docker:index/remoteImage:RemoteImage"}
    assert set(images) == {PINNED["prometheus"], PINNED["thanos"], PINNED["seaweedfs"]}
    for name, image_id in images.items():
        assert docker_client.images.get(name).id == image_id


def test_second_up_and_refresh_change_nothing(pipeline):
    """`pulumi up` is idempotent: nothing to do the second time, no drift on refresh."""
    again = pipeline.stack.up()
    assert changes(again) == {}, again.summary.resource_changes
    # Repeated: a mount whose read_only the state left unset (Docker reports
    # false) once made every other refresh report its container changed.
    for _ in range(3):
        drifted, refreshed = pipeline.stack.refresh_ops()
        assert drifted == {} and changes(refreshed) == {}, refreshed.summary.resource_changes
    # And after the refresh, a preview still has nothing to do.
    preview = pipeline.stack.preview(diff=True)
    assert changes(preview) == {}, preview.stdout[-3000:]


def test_global_view_is_deduplicated(pipeline):
    """The tutorial's check: `up` and `go_goroutines` for both fleets, one series per target."""
    for fleet, agents in pipeline.fleets.items():
        for metric in ("up", "go_goroutines"):
            expr = f'{metric}{{cluster="{fleet}"}}'
            # A peer agent scraped before it listens yields one up=0 sample, so
            # wait for the settled state, not merely for the series to exist.
            want_up = metric == "up"
            result = wait_for(
                f"{expr} deduplicated to {len(agents)} series" + (", all up" if want_up else ""),
                lambda: (
                    lambda r: r
                    if len(r) == len(agents) and (not want_up or all(s["value"][1] == "1" for s in r))
                    else None
                )(pipeline.query(expr)),
                timeout=180,
            )
            instances = sorted(s["metric"]["instance"] for s in result)
            assert instances == sorted(f"{a}:9090" for a in agents)
            for s in result:
                # Replica labels are what dedup removed.
                assert "receive_replica" not in s["metric"] and "prometheus_replica" not in s["metric"]
                assert s["metric"]["tenant_id"] == fleet
        # Without dedup every target shows once per agent replica per receive
        # replica (each agent scrapes every agent; RF=3 on 3 receivers).
        raw = wait_for(
            f"raw series of {fleet}",
            lambda: (lambda r: r if len(r) == len(agents) * len(agents) * 3 else None)(
                pipeline.query(f'up{{cluster="{fleet}"}}', dedup=False)
            ),
            timeout=120,
        )
        assert {s["metric"]["receive_replica"] for s in raw} == {f"central-receive-{i}" for i in range(3)}
        assert {s["metric"]["prometheus_replica"] for s in raw} == set(agents)


LATE = 'agentstream_e2e_late_sample{case="out-of-order"}'
# When test_late_samples_... wrote its late sample (unix seconds), for the
# store test, which needs that sample's block in the bucket.
LATE_WRITTEN: dict[str, float] = {}


def test_late_samples_within_the_out_of_order_window_are_kept(pipeline, promtool):
    """receive.outOfOrderWindow (the dev stack's 4h): a sample older than its
    series' newest, as an agent's backlog is after a long outage, is stored
    and read back deduplicated; one older than the window is refused, so the
    window really is the bound. (test_variants shows the same late sample
    refused by a receive without a window.)"""
    window = duration_seconds(shipped_config("dev")["agentstream:receive"]["outOfOrderWindow"])
    url = pipeline.outputs["external_remote_write_url"]
    now = time.time()
    first = push_samples(promtool, url, [(LATE, 1, now)])
    assert first.returncode == 0, first.stderr
    late = push_samples(promtool, url, [(LATE, 2, now - 600)])
    assert late.returncode == 0, f"a 10-minute-late sample was refused inside a {window}s window: {late.stderr}"
    LATE_WRITTEN["at"] = now - 600
    too_late = push_samples(promtool, url, [(LATE, 3, now - window - 600)])
    assert too_late.returncode != 0, "a sample older than the out-of-order window was accepted"
    log(f"late sample: 10m late taken; {window + 600}s late refused: {too_late.stderr.strip()[-200:]}")
    counted = wait_for(
        "the late sample to be queryable next to the newer one",
        lambda: (lambda r: r if r and r[0]["value"][1] == "2" else None)(
            pipeline.query(f"count_over_time({LATE}[{window + 1200}s])", time=now + 1)
        ),
        timeout=60,
    )
    assert len(counted) == 1, counted  # one series: the RF 3 copies deduplicated
    # The samples themselves, each with its own timestamp: the late one first.
    (series,) = pipeline.query(f"{LATE}[20m]", time=now + 1)
    assert [(round(float(t) - now), v) for t, v in series["values"]] == [(-600, "2"), (0, "1")], series


def test_secrets_are_ciphertext_in_state(pipeline):
    """`pulumi stack export` holds the object-store keys and the objstore
    config only encrypted; `--show-secrets` proves they are really in it."""
    keys = [pipeline.objstore["access_key"], pipeline.objstore["secret_key"]]
    assert all(len(k) >= 16 for k in keys)
    plain = json.dumps(pipeline.stack.export())
    assert "ciphertext" in plain
    for k in keys:
        assert k not in plain, "an object-store key is in the state in plain text"
    revealed = json.dumps(pipeline.stack.export(show_secrets=True))
    for k in keys:
        assert k in revealed, "control: the key is in the state (decrypted with --show-secrets)"


def test_hygiene_no_credentials_in_argv_or_env(pipeline, docker_client):
    keys = [pipeline.objstore["access_key"], pipeline.objstore["secret_key"]]
    containers = docker_client.containers.list(all=True, filters={"label": "app.kubernetes.io/part-of=agentstream"})
    assert len(containers) >= len(pipeline.containers())
    for c in containers:
        attrs = docker_client.api.inspect_container(c.id)
        argv = " ".join([attrs["Path"], *attrs["Args"], *(attrs["Config"].get("Cmd") or []), *(attrs["Config"].get("Entrypoint") or [])])
        env = " ".join(attrs["Config"].get("Env") or [])
        for k in keys:
            assert k not in argv, f"credential on the command line of {c.name}"
            assert k not in env, f"credential in the plain env of {c.name}"


def test_hygiene_only_intended_ports_published(pipeline, docker_client):
    published = {}
    for name in pipeline.containers():
        ports = docker_client.api.inspect_container(name)["NetworkSettings"]["Ports"] or {}
        for container_port, bindings in ports.items():
            for b in bindings or []:
                published[(b["HostIp"], b["HostPort"])] = (name, container_port)
    assert published == {
        ("127.0.0.1", str(QUERY_PORT)): ("central-query-0", "10902/tcp"),
        ("127.0.0.1", str(REMOTE_WRITE_PORT)): ("central-receive-0", "19291/tcp"),
    }
    assert pipeline.outputs["query_url"] == f"http://127.0.0.1:{QUERY_PORT}"
    assert pipeline.outputs["external_remote_write_url"] == f"http://127.0.0.1:{REMOTE_WRITE_PORT}/api/v1/receive"
    # And the published remote-write endpoint really accepts writes from
    # outside the network (what a remote edge would use).
    r = requests.post(f"http://127.0.0.1:{REMOTE_WRITE_PORT}/api/v1/receive", data=b"", timeout=10)
    assert r.status_code in (200, 400), r.status_code  # empty body: a protocol error, not a refusal


def test_every_container_is_healthy_with_restart_policy(pipeline, docker_client):
    for name in pipeline.containers():
        attrs = docker_client.api.inspect_container(name)
        assert attrs["State"]["Health"]["Status"] == "healthy", name
        assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped", name
        assert attrs["Config"]["User"] not in ("", "0", "root"), f"{name} runs as root"
        # The workload's limits are the container's (memory in bytes, CPUs in nano-CPUs).
        host = attrs["HostConfig"]
        assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["MemoryReservation"] > 0, (name, host["Memory"], host["NanoCpus"])
        if name.startswith("central-receive-"):
            assert (host["Memory"], host["NanoCpus"], host["MemoryReservation"]) == (2 * 2**30, 2 * 10**9, 512 * 2**20), name


def test_receive_uploads_short_blocks(pipeline, docker_client):
    """With every receiver running, the periodic head cut uploads blocks of the e2e block duration."""
    blocks = wait_for(
        "receive to cut and upload a block to SeaweedFS",
        lambda: bucket_blocks(docker_client),
        timeout=480,
        interval=15,
    )
    labels = {b["thanos"]["labels"].get("receive_replica") for b in blocks}
    assert labels and labels <= {f"central-receive-{i}" for i in range(3)}
    # The fleets' tenants and the self-monitoring agent's ("meta").
    assert {b["thanos"]["labels"].get("tenant_id") for b in blocks} <= set(pipeline.fleets) | {"default-tenant", "meta"}
    # Cut by --tsdb.max-block-duration (BLOCK_DURATION here, 2h in production).
    assert all(b["maxTime"] - b["minTime"] <= duration_seconds(BLOCK_DURATION) * 1000 for b in blocks), [
        (b["minTime"], b["maxTime"]) for b in blocks
    ]


def test_no_data_lost_while_receive_is_down(pipeline, docker_client):
    """The tutorial's second requirement: an offline central loses nothing.

    Every receiver goes away for a while; the agents keep scraping into their
    WAL and retry. Once receive is back, every scrape from the outage window
    must be queryable.
    """
    receivers = [f"central-receive-{i}" for i in range(3)]
    for name in receivers:
        docker_client.containers.get(name).stop(timeout=20)
    down_from = time.time()
    log("all receivers stopped; agents keep scraping into their WAL for 40s")
    time.sleep(40)
    down_to = time.time()
    for name in receivers:
        docker_client.containers.get(name).start()
    wait_all_healthy(docker_client, receivers)

    # Counted with the fault suite's checker (tests/faults/counting.py):
    # every (target, agent) pair's samples across the receive replicas (the
    # raw view) must be complete over the outage and 10s on either side,
    # and so must the deduplicated view, except that the receivers come
    # back one by one: a write can reach its quorum with one replica still
    # starting, and Query's penalty deduplication, switching replicas
    # around that copy's hole, skips up to two stored samples per switch.
    # Those are counted apart ("hidden") and allowed, as in the fault
    # suite's R2a; a lost sample never is.
    start, end = down_from - 10, down_to + 10
    switches = len(receivers) * 2 - 1  # RF 3 x 2 agents = 6 replicas per series
    deadline = time.time() + 120
    for fleet, agents in pipeline.fleets.items():
        targets = [f"{a}:9090" for a in agents]
        while True:
            try:
                counts = check(pipeline.q, f'up{{cluster="{fleet}"}}', start, end, targets, agents,
                               hidden_allowed=2 * switches, verbose=False)
                break
            except LossError as e:
                if time.time() > deadline:
                    raise
                log(f"{fleet}: the outage window is not complete yet ({str(e).splitlines()[1].strip()}); again in 5s")
                time.sleep(5)
        log(f"{fleet}: outage window complete: {counts.totals()}")


def test_store_serves_bucket_data(pipeline, docker_client):
    # The late sample (test_late_samples_...) went to receive's out-of-order
    # head. Receive cuts that head into a block of its own right after an
    # in-order head compaction (once a block length, 1m here), and the flush
    # as it stops compacts only the in-order head (Thanos' flushHead), so
    # the late sample reaches the bucket only through such a compaction
    # while receive runs. A CI run stopped the receivers 3 minutes after the
    # write, before one had come: wait for the block, then stop them.
    if "at" in LATE_WRITTEN:
        t = LATE_WRITTEN["at"] * 1000
        wait_for(
            "the late sample's out-of-order block in the bucket",
            lambda: [b["ulid"] for b in bucket_blocks(docker_client)
                     if "from-out-of-order" in ((b.get("compaction") or {}).get("hints") or [])
                     and b["minTime"] <= t < b["maxTime"]],
            timeout=300,
            interval=10,
        )
    blocks = bucket_blocks(docker_client)
    assert blocks
    start = min(b["minTime"] for b in blocks) / 1000
    end = max(b["maxTime"] for b in blocks) / 1000

    # Stop every receiver: now only the bucket holds that time range, so any
    # answer must come from the store gateway.
    for i in range(3):
        docker_client.containers.get(f"central-receive-{i}").stop(timeout=20)
    log("receivers stopped; querying the bucket's time range through store")
    result = wait_for(
        "store gateway to serve bucket data",
        lambda: pipeline.q.query_range('up{cluster=~"batmobile|batcopter"}', start, end),
        timeout=180,
        interval=5,
    )
    clusters = {s["metric"]["cluster"] for s in result}
    assert clusters, result
    assert clusters <= set(pipeline.fleets)
    # The late sample (test_late_samples_...) went to receive's out-of-order
    # head, which is cut into a block of its own, overlapping the others:
    # uploaded too, the bucket alone serves both samples of its series.
    late = wait_for(
        "store to serve the late sample's block",
        lambda: (lambda r: r if r and r[0]["value"][1] == "2" else None)(
            pipeline.query(f"count_over_time({LATE}[6h])")
        ),
        timeout=180,
        interval=5,
    )
    assert len(late) == 1, late


def test_refresh_then_up_restarts_stopped_containers(pipeline, docker_client):
    """Drift the provider can see: stopped receivers (from the test above).
    `pulumi refresh` records them as not running; the next `pulumi up` brings
    them back: started in place, except central-receive-0, whose published
    port Docker does not report while it is stopped, so the provider
    replaces it. After that the stack is settled again."""
    stopped = [f"central-receive-{i}" for i in range(3)]
    assert all(docker_client.containers.get(n).status != "running" for n in stopped)
    drifted, refreshed = pipeline.stack.refresh_ops(diff=True)
    # Named, and the names agree with the engine's own count.
    assert drifted == {n: "update" for n in stopped}, drifted
    assert changes(refreshed) == {"update": 3}, refreshed.summary.resource_changes
    up = pipeline.stack.up()
    done = changes(up)
    # A replaced container replaces its health gate too (a new id to wait for).
    assert set(done) <= {"update", "replace"} and done.get("replace", 0) % 2 == 0, done
    assert done.get("update", 0) + done.get("replace", 0) // 2 == 3, done
    wait_all_healthy(docker_client, stopped)
    preview = pipeline.stack.preview()
    assert changes(preview) == {}, preview.stdout[-3000:]


def test_destroy_leaves_nothing(pipeline, docker_client):
    names = pipeline.containers()
    pipeline.stack.destroy()
    assert pipeline.stack.resource_states() == []
    for n in names:
        assert not docker_client.containers.list(all=True, filters={"name": f"^{n}$"}), n
    assert part_of_leftovers(docker_client) == []
    assert not docker_client.networks.list(names=["agentstream-dev"])
