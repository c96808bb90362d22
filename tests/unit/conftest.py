"""Shared fixtures for the unit suite.

``stacks(name, overrides=None)`` runs a shipped stack file through the real
stack program under mocks, once per distinct (stack, overrides) per session:
the runs are read-only, so tests share them and the suite stays fast.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Optional

import pytest

from tests.support.stack_runner import StackRun, run_stack


@pytest.fixture(scope="session")
def stacks() -> Callable[..., StackRun]:
    cache: dict[str, StackRun] = {}

    def get(name: str, overrides: Optional[dict[str, Any]] = None) -> StackRun:
        key = json.dumps([name, overrides], sort_keys=True)
        if key not in cache:
            cache[key] = run_stack(name, overrides=copy.deepcopy(overrides))
        return cache[key]

    return get
