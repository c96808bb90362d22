"""The Docker health gate (agentstream.targets.docker_health) on the real
engine and a real Docker: ``programs/health_gate`` runs two Thanos Query
containers, each with its gate.

The gate is what makes ``pulumi up`` wait for health now that the containers
are created without the provider's ``wait``, so both outcomes are proved: a
container that never passes its check fails ``pulumi up`` (naming it, its
state and its checks' output) and leaves no gate in the state; the same
container, once it can pass, gets its gate without being replaced, and the
stack then shows no changes on ``up`` or ``refresh``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pulumi.automation import errors as auto_errors

from tests.e2e.conftest import changes, log

pytestmark = pytest.mark.e2e

PROGRAM = Path(__file__).parent / "programs" / "health_gate"
NAMES = ("gate-ok", "gate-bad")
TIMEOUT = 8


def _clean(docker_client) -> None:
    for name in NAMES:
        try:
            docker_client.containers.get(name).remove(force=True)
        except Exception:  # noqa: BLE001 - absent is the goal
            pass


def gates_in_state(stack) -> set[str]:
    return {r["urn"].rsplit("::", 1)[-1] for r in stack.resource_states() if r["type"].endswith(":ContainerHealthy")}


def test_a_container_that_never_passes_fails_up_then_its_gate_waits_for_it(backend, docker_client):
    _clean(docker_client)
    stack = backend.stack("health-gate", {"gate:timeout": TIMEOUT, "gate:badPort": 10999}, program=PROGRAM)
    try:
        start = time.time()
        with pytest.raises(auto_errors.CommandError) as failed:
            stack.up()
        took = time.time() - start
        message = str(failed.value)
        log(f"up failed after {took:.1f}s")
        assert f"container gate-bad is not healthy after {TIMEOUT}s" in message, message[-3000:]
        # Its state and the output of its last checks, for the person paged.
        assert "state running" in message and "check exit 1" in message, message[-3000:]
        assert took < 90, took
        # The control: the healthy one's gate was created, the failed one's not.
        assert gates_in_state(stack) == {"gate-ok-healthy"}
        bad_id = docker_client.containers.get("gate-bad").id

        # Query now serves the port its check asks: the container is
        # replaced (a changed command), and its new gate waits for it.
        stack.configure({"gate:timeout": TIMEOUT})
        up = stack.up()
        assert gates_in_state(stack) == {"gate-ok-healthy", "gate-bad-healthy"}
        assert docker_client.containers.get("gate-bad").id != bad_id
        for name in NAMES:
            assert docker_client.api.inspect_container(name)["State"]["Health"]["Status"] == "healthy", name
        assert set(changes(up)) <= {"replace", "create"}, up.summary.resource_changes

        # Settled: a second up and a refresh change nothing.
        again = stack.up()
        assert changes(again) == {}, again.summary.resource_changes
        drifted, refreshed = stack.refresh_ops()
        assert drifted == {} and changes(refreshed) == {}, (drifted, refreshed.summary.resource_changes)
    finally:
        stack.destroy()
        _clean(docker_client)
    assert gates_in_state(stack) == set()


def test_the_engine_query_names_every_container_running_or_not(docker_client):
    """What the Docker target asks the engine (once per program) to tell a
    first deployment from an update: a created container that never ran
    counts, as ``docker ps -a`` lists it; a removed one does not."""
    from agentstream.targets.docker_health import engine_container_names
    from tests.e2e.conftest import PINNED

    name = "agentstream-engine-query-probe"
    try:
        docker_client.containers.get(name).remove(force=True)
    except Exception:  # noqa: BLE001 - absent is the goal
        pass
    assert name not in engine_container_names(None)  # the control
    c = docker_client.containers.create(PINNED["thanos"], name=name, command=["--version"])
    try:
        names = engine_container_names(None)
        assert name in names and c.status == "created"
    finally:
        c.remove(force=True)
    assert name not in engine_container_names(None)
