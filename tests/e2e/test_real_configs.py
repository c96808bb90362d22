"""What the components render, checked by the real binaries.

* every agent config of every shipped stack passes `promtool check config --agent`;
* every Thanos command line (receive, router, query, query-frontend, store, compact) of every
  shipped stack gets past the real binary's flag parser. A flag typo fails.
* a real agent, with the config and secret file a fleet renders, remote-writes
  Remote Write 1.0 with the tenant header and its credentials.
"""

from __future__ import annotations

import http.server
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from agentstream.config import render_receive_limits
from agentstream.config.prometheus import TARGETS_DIR

from tests.e2e.conftest import run
from tests.support.resources import object_names
from tests.support.stack_runner import StackRun, run_stack, shipped_stacks

pytestmark = pytest.mark.e2e

_runs: dict[str, StackRun] = {}


def stack(name: str) -> StackRun:
    if name not in _runs:
        _runs[name] = run_stack(name)
    return _runs[name]


def agent_configs(run: StackRun) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(where, prometheus.yml, env, live files by path) for every agent the
    stack deploys; the live files are the named jobs' file_sd targets."""
    found = []
    for r in run.resources:
        if r.type == "docker:index/container:Container":
            for u in r.inputs.get("uploads", []):
                if u["file"] == "/etc/prometheus/prometheus.yml":
                    env = dict(e.split("=", 1) for e in r.inputs.get("envs", []))
                    live = {}
                    for v in r.inputs.get("volumes") or []:
                        if v.get("volumeName", "").endswith("-live"):
                            writer = next(w for w in run.resources if w.name == f"{v['volumeName']}-sync")
                            live.update({w["file"]: w["content"] for w in writer.inputs.get("uploads", [])})
                    found.append((r.name, u["content"], env, live))
        elif r.type == "kubernetes:core/v1:ConfigMap" and "prometheus.yml" in (r.inputs.get("data") or {}):
            workload = r.name.removesuffix("-config")
            live_cm = next((c for c in run.resources if c.type == r.type and c.name == f"{workload}-live-config"), None)
            live = {f"{TARGETS_DIR}/{k}": v for k, v in ((live_cm.inputs.get("data") or {}) if live_cm else {}).items()}
            found.append((r.name, r.inputs["data"]["prometheus.yml"], {"INSTANCE": f"{workload}-0"}, live))
    return found


def thanos_command_lines(run: StackRun) -> list[tuple[str, list[str], dict[str, str]]]:
    """(where, args, files) for every Thanos process.

    ``files`` maps each config file's path to its content, as the target
    delivers it (Docker uploads; Kubernetes ConfigMap/Secret subPath mounts).
    ``$(INSTANCE)`` is expanded as Kubernetes would, with the first pod's name.
    """
    found = []
    # Config objects are auto-named: find them by the name the provider gives them.
    by_name = {n: r for r in run.resources if r.type.startswith("kubernetes:core/v1:") for n in object_names(r)}
    for r in run.resources:
        if r.type == "docker:index/container:Container" and r.inputs.get("command", [""])[0] in THANOS_COMMANDS:
            files = {u["file"]: u["content"] for u in r.inputs.get("uploads", [])}
            # Live files (the hashring) sit on a named volume <workload>-live,
            # written by its one-shot -live-sync container from an upload at
            # the same path the instances mount.
            for v in r.inputs.get("volumes") or []:
                if v.get("volumeName", "").endswith("-live"):
                    writer = next(w for w in run.resources if w.name == f"{v['volumeName']}-sync")
                    files.update({u["file"]: u["content"] for u in writer.inputs.get("uploads", [])})
            found.append((r.name, r.inputs["command"], files))
        elif r.type in ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment"):
            pod_spec = r.inputs["spec"]["template"]["spec"]
            sources = {}
            for v in pod_spec.get("volumes", []):
                ref = (v.get("configMap") or {}).get("name") or (v.get("secret") or {}).get("secretName")
                if ref in by_name:
                    obj = by_name[ref].inputs
                    sources[v["name"]] = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
            for c in pod_spec["containers"]:
                args = c.get("args") or []
                if args and args[0] in THANOS_COMMANDS:
                    mounted = [m for m in c.get("volumeMounts", []) if m.get("subPath")]
                    # Every file mount must resolve to its object: a silently
                    # dropped file would start thanos without it.
                    assert all(m["name"] in sources for m in mounted), (r.name, mounted, list(sources))
                    files = {m["mountPath"]: sources[m["name"]][m["subPath"]] for m in mounted}
                    # Live files: their ConfigMap mounted as a directory.
                    for m in c.get("volumeMounts", []):
                        if not m.get("subPath") and m["name"] in sources:
                            files.update({f"{m['mountPath']}/{k}": v for k, v in sources[m["name"]].items()})
                    pod = f"{r.inputs['metadata']['name']}-0"
                    found.append((r.name, [a.replace("$(INSTANCE)", pod) for a in args], files))
    return found


THANOS_COMMANDS = ("receive", "query", "store", "compact", "query-frontend")


@pytest.mark.parametrize("stack_name", shipped_stacks())
def test_agent_configs_pass_promtool(stack_name, promtool):
    configs = agent_configs(stack(stack_name))
    if stack_name == "central":
        # The central stack deploys no fleet, only its self-monitoring agent.
        assert len(configs) == 1 and configs[0][0].startswith("meta-agent"), [c[0] for c in configs]
    assert configs, f"stack {stack_name} renders no agent config"
    for where, text, env, live in configs:
        with tempfile.TemporaryDirectory() as d:
            # The named jobs' targets files, where the config names them
            # (moved into the scratch directory): promtool checks them too.
            for path, content in live.items():
                with open(os.path.join(d, os.path.basename(path)), "w") as f:
                    f.write(content)
            names = re.findall(rf"{TARGETS_DIR}/[^\s'\"]+", text)
            assert sorted(set(names)) == sorted(live), f"{where}: files named {names}, delivered {sorted(live)}"
            config = os.path.join(d, "prometheus.yml")
            with open(config, "w") as f:
                f.write(text.replace(TARGETS_DIR, d))
            res = run([promtool, "check", "config", "--agent", config], env={**os.environ, **env})
            out = res.stdout + res.stderr
            assert res.returncode == 0, f"{where}: promtool rejected the config:\n{out}"
            assert "SUCCESS" in out and "WARNING" not in out, out


def test_promtool_check_can_fail(promtool):
    """The check above is not vacuous: a server-only section is rejected in agent mode."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("rule_files: [x.yml]\nscrape_configs: []\n")
    try:
        res = run([promtool, "check", "config", "--agent", f.name])
        assert res.returncode != 0
    finally:
        os.unlink(f.name)


def start(thanos: str, args: list[str], files: dict[str, str] | None = None, seconds: float = 4) -> tuple[bool, str]:
    """Start the real binary with ``args`` and the config files it is given.

    Absolute paths (config files, data dirs) are moved under a temp root, so
    the process reads exactly the rendered files. Returns (still running after
    ``seconds``, output). A flag typo exits at once with kingpin's "try --help".
    """
    with tempfile.TemporaryDirectory() as root:
        for path, content in (files or {}).items():
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            with open(root + path, "w") as f:
                f.write(content)
        local = []
        for a in args:
            flag, eq, value = a.partition("=")
            if eq and value.startswith(("/etc/", "/var/")):
                os.makedirs(os.path.dirname(root + value), exist_ok=True)
                a = f"{flag}={root}{value}"
            local.append(a)
        proc = subprocess.Popen(
            [thanos, *local], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=seconds)
            return False, out
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return True, out


@pytest.mark.parametrize("stack_name", shipped_stacks())
def test_thanos_command_lines_parse(stack_name, thanos_binary):
    lines = thanos_command_lines(stack(stack_name))
    if stack_name.startswith("edge-"):
        assert lines == []  # edges run agents only
        return
    assert {args[0] for _, args, _ in lines} >= {"receive", "query", "store", "compact"}
    if stack_name in ("k8s", "central"):
        assert "query-frontend" in {args[0] for _, args, _ in lines}
    for where, args, files in lines:
        # Listen on ephemeral loopback ports so parallel processes never clash.
        local = [a for a in args if not a.startswith(("--http-address", "--grpc-address", "--remote-write.address"))]
        local += ["--http-address=127.0.0.1:0", "--grpc-address=127.0.0.1:0"]
        if args[0] == "receive":
            local.append("--remote-write.address=127.0.0.1:0")
        if args[0] in ("compact", "query-frontend"):
            local.remove("--grpc-address=127.0.0.1:0")  # no gRPC server in these
        running, out = start(thanos_binary, local, files)
        assert running, f"{where}: thanos exited with its rendered command line and files:\n{out[-3000:]}"
        assert "try --help" not in out


def test_flag_check_can_fail(thanos_binary):
    """A typo in a flag is caught by the check above."""
    running, out = start(thanos_binary, ["receive", "--receive.replication-factr=3", '--label=a="b"'])
    assert not running and "replication-factr" in out


def test_compactor_refuses_what_validation_refuses(thanos_binary):
    """Our retention floors (40h raw, 10d 5m) are Thanos' own: the real
    compactor refuses the values validation refuses, and takes the floors."""
    base = ["compact", "--data-dir=/var/thanos/compact", "--objstore.config-file=/etc/thanos/objstore.yml",
            "--http-address=127.0.0.1:0", "--wait"]
    # A relative bucket directory: start() runs the binary inside a temp dir.
    files = {"/etc/thanos/objstore.yml": "type: FILESYSTEM\nconfig:\n  directory: bucket\n"}
    running, out = start(thanos_binary, base + ["--retention.resolution-raw=39h"], files)
    assert not running and "40 hours" in out, out[-2000:]
    running, out = start(thanos_binary, base + ["--retention.resolution-5m=9d"], files)
    assert not running and "10 days" in out, out[-2000:]
    running, out = start(thanos_binary, base + ["--retention.resolution-raw=40h", "--retention.resolution-5m=10d"], files)
    assert running, out[-2000:]


def test_limits_file_is_read_strictly(thanos_binary):
    """Receive parses the limits file at start, strictly: a misspelt key stops it."""
    base = ["receive", '--label=r="x"', "--tsdb.path=/var/thanos/receive", "--http-address=127.0.0.1:0",
            "--grpc-address=127.0.0.1:0", "--remote-write.address=127.0.0.1:0",
            "--receive.limits-config-file=/etc/thanos/limits.yml"]
    good = render_receive_limits(request={"series_limit": 10})
    running, out = start(thanos_binary, base, {"/etc/thanos/limits.yml": good})
    assert running, out[-2000:]
    running, out = start(thanos_binary, base, {"/etc/thanos/limits.yml": good.replace("series_limit", "series_limt")})
    assert not running and "series_limt" in out, out[-2000:]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A remote-write endpoint on loopback that keeps each request's headers."""

    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    "auth,expected",
    [
        ({"type": "bearer"}, "Bearer s3cret-t0ken"),
        ({"type": "basic", "username": "gotham"}, "Basic Z290aGFtOnMzY3JldC10MGtlbg=="),  # gotham:s3cret-t0ken
    ],
)
def test_agent_remote_writes_rw1_with_tenant_and_credentials(prometheus_binary, auth, expected):
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/receive"
    # An edge stack on Docker with an explicit URL: no central, no cluster.
    run = run_stack("dev", config={
        "agentstream:target": "docker",
        "agentstream:role": "edge",
        "agentstream:fleets": [{"name": "gotham", "agents": 1, "scrapeInterval": "1s", "remoteWriteUrl": url,
                                "remoteWriteAuth": auth, "queueConfig": {"batch_send_deadline": "1s"}}],
        "agentstream:remoteWriteSecret": "s3cret-t0ken",
    })
    (agent,) = [r for r in run.resources if r.type == "docker:index/container:Container" and r.name == "gotham-agent-0"]
    files = {u["file"]: u["content"] for u in agent.inputs["uploads"]}
    assert "s3cret-t0ken" not in files["/etc/prometheus/prometheus.yml"]
    with tempfile.TemporaryDirectory() as root:
        for path, content in files.items():
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            with open(root + path, "w") as f:
                f.write(content.replace("/etc/prometheus/", root + "/etc/prometheus/"))
        args = [a for a in agent.inputs["command"] if not a.startswith(("--config.file", "--storage.agent.path", "--web.listen-address"))]
        args += [f"--config.file={root}/etc/prometheus/prometheus.yml", f"--storage.agent.path={root}/wal",
                 "--web.listen-address=127.0.0.1:0"]
        proc = subprocess.Popen([prometheus_binary, *args], env={**os.environ, "INSTANCE": "gotham-agent-0"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.time() + 60
            while not _Recorder.seen and time.time() < deadline and proc.poll() is None:
                time.sleep(0.5)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            server.shutdown()
    assert _Recorder.seen, f"the agent sent nothing in 60s:\n{out[-3000:]}"
    headers = {k.lower(): v for k, v in _Recorder.seen[0].items()}
    assert headers["authorization"] == expected
    assert headers["thanos-tenant"] == "gotham"
    # Remote Write 1.0 (prometheus.WriteRequest), which Thanos Receive accepts.
    assert headers["x-prometheus-remote-write-version"] == "0.1.0"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["content-encoding"] == "snappy"
