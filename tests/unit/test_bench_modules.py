"""The benchmarks build their processes' command lines from the components'
pure renderers; a change to a renderer's input (typed settings) must not
break them. CI runs the benchmarks last (quick mode); this catches such a
break in the unit step, in a second, before any binary is built."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("module", ["bench_footprint", "bench_ingest"])
def test_agent_command_line_builds(module):
    mod = _bench_module(module)
    argv = mod.agent_args(mod.AGENT_SETTINGS)
    assert "--agent" in argv and "--storage.agent.retention.max-time=4h" in argv, argv


def _bench_module(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_deploy_timeline_reads_docker_times_and_tabulates_medians():
    mod = _bench_module("bench_deploy")
    # Nanoseconds, as Docker writes them (Python's fromisoformat takes microseconds at most).
    assert mod.docker_time("2026-12-06T23:22:13.5Z") == pytest.approx(1796599333.5)
    assert mod.docker_time("2026-12-06T23:22:13.123456789Z") == pytest.approx(1796599333.123456789)
    table = mod.timeline_table({
        "pulumi up": [{"a": (1.0, 6.0), "b": (7.0, 12.0)}, {"a": (3.0, 8.0), "b": (9.0, None)}],
        "docker shell": [{"a": (0.5, 5.5), "b": (0.6, 5.6)}, {"a": (0.7, 5.7), "b": (0.8, 5.8)}],
    }).splitlines()
    assert table[0] == "| container | pulumi up: started | pulumi up: healthy | docker shell: started | docker shell: healthy |"
    # Medians per column; a round without a passing check is left out of its median.
    assert table[2:] == ["| a | 2.0 | 7.0 | 0.6 | 5.6 |", "| b | 8.0 | 12.0 | 0.7 | 5.7 |"]


def test_scale_marginal_cost_shows_a_curve_a_fit_hides():
    mod = _bench_module("bench_scale")
    # 2026-12-07's superlinear fleets: R^2 0.975, but one more fleet cost
    # 61, 118, then 407 ms.
    rising = mod.marginal_ms([1, 10, 50, 200], [0.33, 0.88, 5.6, 66.6])
    assert [round(ms) for _, _, ms in rising] == [61, 118, 407]
    # A straight line costs the same everywhere.
    assert [round(ms) for _, _, ms in mod.marginal_ms([1, 10, 50], [0.1, 1.0, 5.0])] == [100, 100]
