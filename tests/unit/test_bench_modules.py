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
    sys.path.insert(0, str(BENCH))
    try:
        mod = importlib.import_module(module)
    finally:
        sys.path.remove(str(BENCH))
    argv = mod.agent_args(mod.AGENT_SETTINGS)
    assert "--agent" in argv and "--storage.agent.retention.max-time=4h" in argv, argv
