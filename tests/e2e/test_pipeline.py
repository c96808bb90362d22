"""The dev stack, for real: agents -> receive (RF 3) -> SeaweedFS -> store, via query.

Runs the real stack program with Pulumi.dev.yaml under the mock engine, then
creates its docker resources on a real engine with locally built images of
the pinned versions (see harness.py). The tests below run in file order and
share one deployment; the last one tears it down.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
import yaml

from agentstream import versions
from agentstream.validation import duration_seconds
from tests.e2e.conftest import LOCAL_IMAGES
from tests.e2e.harness import Deployment, log, materialize
from tests.support.stack_runner import StackRun, load_stack_config, run_stack

pytestmark = pytest.mark.e2e

QUERY_PORT = 10902
REMOTE_WRITE_PORT = 19291
# Short blocks so receive cuts and uploads one within ~2 minutes (2h in prod).
BLOCK_DURATION = "1m"


def e2e_config() -> dict:
    """Pulumi.dev.yaml, with the images pointed at the local builds."""
    cfg = load_stack_config("dev")
    receive = dict(cfg["agentstream:receive"])
    receive.update({"blockDuration": BLOCK_DURATION, "bucketSyncInterval": "15s",
                    "queryPort": QUERY_PORT, "remoteWritePort": REMOTE_WRITE_PORT})
    cfg["agentstream:receive"] = receive
    cfg["agentstream:images"] = dict(LOCAL_IMAGES)
    return cfg


class Pipeline:
    def __init__(self, run: StackRun, dep: Deployment):
        self.run = run
        self.dep = dep
        self.query_url = run.outputs["query_url"]
        self.fleets = run.outputs["fleets"]
        receive = next(r for r in run.resources if r.name == "central-receive-0")
        objstore = next(u["content"] for u in receive.inputs["uploads"] if u["file"].endswith("objstore.yml"))
        self.objstore = yaml.safe_load(objstore)["config"]

    def query(self, promql: str, dedup: bool = True, **params) -> list[dict]:
        r = requests.get(
            f"{self.query_url}/api/v1/query",
            params={"query": promql, "dedup": str(dedup).lower(), **params},
            timeout=15,
        )
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def query_range(self, promql: str, start: float, end: float, step: int = 15) -> list[dict]:
        r = requests.get(
            f"{self.query_url}/api/v1/query_range",
            params={"query": promql, "start": start, "end": end, "step": step, "dedup": "true"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["data"]["result"]


def wait_for(what: str, check, timeout: float, interval: float = 5.0):
    """Poll ``check`` until it returns a truthy value; print progress."""
    start = time.time()
    last_error = None
    while time.time() - start < timeout:
        try:
            value = check()
            if value:
                log(f"{what}: ok after {int(time.time() - start)}s")
                return value
        except (requests.RequestException, AssertionError, KeyError) as e:
            last_error = e
        log(f"waiting for {what} ({int(time.time() - start)}s/{int(timeout)}s)")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}")


@pytest.fixture(scope="module")
def pipeline(docker_client):
    log("running the stack program (dev + local images) under the mock engine")
    run = run_stack("dev", config=e2e_config())
    log(f"{len(run.resources)} resources registered; creating the docker ones")
    dep = materialize(run, docker_client)
    p = Pipeline(run, dep)
    yield p
    dep.destroy()  # idempotent; test_teardown already did it when it ran


def _run_once(client, image: str, args: list[str]) -> str:
    container = client.containers.run(image, args, detach=True)
    try:
        container.wait(timeout=60)
        return container.logs(stdout=True, stderr=True).decode()
    finally:
        container.remove(force=True, v=True)  # and the image's anonymous VOLUMEs


def test_images_are_the_pinned_versions(docker_client):
    out = _run_once(docker_client, LOCAL_IMAGES["prometheus"], ["--version"])
    assert f"version {versions.PROMETHEUS_VERSION.lstrip('v')}" in out
    out = _run_once(docker_client, LOCAL_IMAGES["thanos"], ["--version"])
    assert versions.THANOS_VERSION.lstrip("v") in out
    out = _run_once(docker_client, LOCAL_IMAGES["seaweedfs"], ["version"])
    assert f" {versions.SEAWEEDFS_VERSION} " in out
    # The e2e stack uses exactly these, and they carry the pinned tags.
    assert LOCAL_IMAGES["prometheus"].endswith(":" + versions.PROMETHEUS_IMAGE.rsplit(":", 1)[1])
    assert LOCAL_IMAGES["thanos"].endswith(":" + versions.THANOS_IMAGE.rsplit(":", 1)[1])
    assert LOCAL_IMAGES["seaweedfs"].endswith(":" + versions.SEAWEEDFS_IMAGE.rsplit(":", 1)[1])


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
            if want_up:
                assert all(s["value"][1] == "1" for s in result)
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


def test_hygiene_no_credentials_in_argv_or_env(pipeline, docker_client):
    secrets = [pipeline.objstore["access_key"], pipeline.objstore["secret_key"]]
    assert all(len(s) >= 16 for s in secrets)
    for name in pipeline.dep.containers + pipeline.dep.one_shots:
        attrs = docker_client.api.inspect_container(name)
        argv = " ".join([attrs["Path"], *attrs["Args"], *(attrs["Config"].get("Cmd") or []), *(attrs["Config"].get("Entrypoint") or [])])
        env = " ".join(attrs["Config"].get("Env") or [])
        for s in secrets:
            assert s not in argv, f"credential on the command line of {name}"
            assert s not in env, f"credential in the plain env of {name}"


def test_hygiene_only_intended_ports_published(pipeline, docker_client):
    published = {}
    for name in pipeline.dep.containers:
        ports = docker_client.api.inspect_container(name)["NetworkSettings"]["Ports"] or {}
        for container_port, bindings in ports.items():
            for b in bindings or []:
                published[(b["HostIp"], b["HostPort"])] = (name, container_port)
    assert published == {
        ("127.0.0.1", str(QUERY_PORT)): ("central-query-0", "10902/tcp"),
        ("127.0.0.1", str(REMOTE_WRITE_PORT)): ("central-receive-0", "19291/tcp"),
    }
    # And the published remote-write endpoint really accepts writes from
    # outside the network (what a remote edge would use).
    r = requests.post(f"http://127.0.0.1:{REMOTE_WRITE_PORT}/api/v1/receive", data=b"", timeout=10)
    assert r.status_code in (200, 400), r.status_code  # empty body: a protocol error, not a refusal


def test_every_container_is_healthy_with_restart_policy(pipeline, docker_client):
    for name in pipeline.dep.containers:
        attrs = docker_client.api.inspect_container(name)
        assert attrs["State"]["Health"]["Status"] == "healthy", name
        assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped", name
        assert attrs["Config"]["User"] not in ("", "0", "root"), f"{name} runs as root"


def _bucket_blocks(docker_client) -> list[dict]:
    """Blocks in the bucket, listed by the real `thanos tools bucket ls` with the deployed config."""
    out = docker_client.containers.get("central-store-0").exec_run(
        ["thanos", "tools", "bucket", "ls", "--objstore.config-file=/etc/thanos/objstore.yml", "-o", "json"],
        demux=True,
    )
    stdout, stderr = (part.decode(errors="replace") if part else "" for part in out.output)
    assert out.exit_code == 0, stderr[-2000:]
    # A stream of indented JSON documents (each block's meta.json) on stdout.
    decoder, blocks, pos = json.JSONDecoder(), [], 0
    while stdout[pos:].strip():
        block, end = decoder.raw_decode(stdout, pos + len(stdout[pos:]) - len(stdout[pos:].lstrip()))
        blocks.append(block)
        pos = end
    return blocks


def test_receive_uploads_short_blocks(pipeline, docker_client):
    """With every receiver running, the periodic head cut uploads blocks of the e2e block duration."""
    blocks = wait_for(
        "receive to cut and upload a block to SeaweedFS",
        lambda: _bucket_blocks(docker_client),
        timeout=480,
        interval=15,
    )
    labels = {b["thanos"]["labels"].get("receive_replica") for b in blocks}
    assert labels and labels <= {f"central-receive-{i}" for i in range(3)}
    assert {b["thanos"]["labels"].get("tenant_id") for b in blocks} <= set(pipeline.fleets) | {"default-tenant"}
    # Cut by --tsdb.max-block-duration (BLOCK_DURATION here, 2h in production).
    assert all(b["maxTime"] - b["minTime"] <= duration_seconds(BLOCK_DURATION) * 1000 for b in blocks), [
        (b["minTime"], b["maxTime"]) for b in blocks
    ]


def _wait_all_healthy(docker_client, names: list[str], timeout: float = 120) -> None:
    def healthy():
        for n in names:
            state = docker_client.api.inspect_container(n)["State"]
            if (state.get("Health") or {}).get("Status") != "healthy":
                return False
        return True

    wait_for(f"{', '.join(names)} healthy again", healthy, timeout=timeout, interval=3)


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
    _wait_all_healthy(docker_client, receivers)

    window = int(down_to - down_from)
    # 5s scrapes: the window holds window/5 scrapes per target (one may
    # straddle each edge of the window).
    expected = window // 5 - 1
    for fleet, agents in pipeline.fleets.items():
        expr = f'count_over_time(up{{cluster="{fleet}"}}[{window}s])'
        result = wait_for(
            f"{fleet}'s outage-window samples to arrive from the WAL",
            lambda: (lambda r: r if len(r) == len(agents) and all(int(s["value"][1]) >= expected for s in r) else None)(
                pipeline.query(expr, time=down_to)
            ),
            timeout=120,
        )
        log(f"{fleet}: samples per target in the {window}s outage window: {[s['value'][1] for s in result]}")


def test_store_serves_bucket_data(pipeline, docker_client):
    blocks = _bucket_blocks(docker_client)
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
        lambda: pipeline.query_range('up{cluster=~"batmobile|batcopter"}', start, end),
        timeout=180,
        interval=5,
    )
    clusters = {s["metric"]["cluster"] for s in result}
    assert clusters, result
    assert clusters <= set(pipeline.fleets)


def test_teardown_leaves_nothing(pipeline, docker_client):
    pipeline.dep.destroy()
    assert pipeline.dep.leftovers() == []
    names = [r.inputs["name"] for r in pipeline.run.resources if r.type == "docker:index/container:Container"]
    assert set(names) == set(pipeline.dep.containers + pipeline.dep.one_shots)
