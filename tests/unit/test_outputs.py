"""Values that are Pulumi Outputs (a secret from ``Config.require_secret``,
another stack's output) are validated when they resolve, with the same
message as a plain value, and a good one reaches the resources unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

import agentstream as a
from tests.support.stack_runner import run_program

REPO = Path(__file__).resolve().parents[2]
OBJSTORE = "type: S3\nconfig: {bucket: thanos, endpoint: s3.example.com}\n"
AM_CONFIG = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}


# Each value is made inside the program (an Output belongs to the running
# program); ``out``/``secret`` wrap it in an Output there, ``plain`` does not.
def out(v):
    return lambda: pulumi.Output.from_input(v)


def secret(v):
    return lambda: pulumi.Output.secret(v)


def plain(v):
    return lambda: v


def fleet(url=None, secret=None):
    def program():
        t = a.DockerTarget("t")
        args = {"target": t, "remote_write_url": url() if url else "https://receive.example.com/api/v1/receive"}
        if secret is not None:
            args["remote_write_auth"] = {"type": "bearer", "secret": secret()}
        a.AgentFleet("f", args)

    return program


def store(config):
    def program():
        s = a.ObjectStore("s", {"engine": "external", "external_config": config(), "target": a.DockerTarget("t")})
        pulumi.export("bucket", s.bucket)

    return program


def alerting(config):
    def program():
        t = a.DockerTarget("t")
        rc = a.ReceiveCluster("c", {"replicas": 1, "target": t})
        a.Alerting("al", {"alertmanager": {"config": config()}, "target": t, "receive": rc})

    return program


# name -> (program, what its error must say; None: it must succeed and the
# value must reach the resources)
CASES = {
    "url-scheme": (fleet(url=out("ftp://receive/api")), "remoteWriteUrl: 'ftp://receive/api' is not an http(s) URL"),
    "url-no-host": (fleet(url=out("https://")), "remoteWriteUrl: 'https://'"),
    "secret-empty": (fleet(secret=secret("")), "agentstream:remoteWriteSecret: required with"),
    "secret-blank": (fleet(secret=secret("   ")), "agentstream:remoteWriteSecret: required with"),
    "objstore-type": (store(secret("type: NOPE\nconfig: {}\n")), "objectStore.externalConfig: must be a Thanos objstore config"),
    "objstore-yaml": (store(secret("{not yaml")), "objectStore.externalConfig: not valid YAML"),
    "objstore-empty": (store(secret("")), "objectStore.externalConfig: engine 'external' needs"),
    "am-receivers": (alerting(out({"route": {}})), "alertmanager.config.receivers: required"),
    "am-unknown": (alerting(out({"route": {}, "receivers": [], "routes": []})), "alertmanager.config.routes: unknown key"),
    # The same bad values, plain: the messages must be the same.
    "plain-url-scheme": (fleet(url=plain("ftp://receive/api")), "remoteWriteUrl: 'ftp://receive/api' is not an http(s) URL"),
    "plain-objstore-type": (store(plain("type: NOPE\nconfig: {}\n")), "objectStore.externalConfig: must be a Thanos objstore config"),
    "plain-am-receivers": (alerting(plain({"route": {}})), "alertmanager.config.receivers: required"),
}
GOOD = {
    "good-url": (fleet(url=out("https://central.example.com/api/v1/receive")), "https://central.example.com/api/v1/receive"),
    "good-secret": (fleet(secret=secret("s3cr3t-token")), "s3cr3t-token"),
    "good-objstore": (store(secret(OBJSTORE)), '"bucket": "thanos"'),
    "good-am": (alerting(out(AM_CONFIG)), "receiver: 'null'"),
}


MARK = "=== outcome: "


def run_case(name: str) -> None:
    """Run one case and print what came of it (in a process of its own)."""
    program = {**CASES, **GOOD}[name][0]
    try:
        run = run_program(program)
    except Exception as e:  # noqa: BLE001 - reported to the test
        print(MARK + "ERROR " + " ".join(str(e).split()))
        return
    print(MARK + "OK " + json.dumps([[r.inputs for r in run.resources], run.outputs], default=str))


def outcome(name: str) -> str:
    # A process per case: after an Output's callback raised, the Pulumi
    # runtime in that process hangs the next program run, so a failing case
    # must not share a process with anything after it.
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); from tests.unit.test_outputs import run_case; run_case({name!r})"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.rsplit(MARK, 1)[-1].strip()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_value_fails_with_its_message_when_it_resolves(name):
    got = outcome(name)
    assert got.startswith("ERROR ") and CASES[name][1] in got, got


@pytest.mark.parametrize("name", ["url-scheme", "objstore-type", "am-receivers"])
def test_the_same_value_plain_and_as_an_output_gets_the_same_message(name):
    def message(text):
        return text.split("has risen: ")[-1].split("ERROR ")[-1]

    assert message(outcome(name)) == message(outcome(f"plain-{name}"))


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_good_output_reaches_the_resources(name):
    """The control: the check passes a good value through, unchanged."""
    got = outcome(name)
    assert got.startswith("OK ") and GOOD[name][1] in got, got[:500]
