"""Fixtures: the policy pack running as the CLI runs it, and stack resources."""

from __future__ import annotations

import copy
import functools
import sys

import pytest

from tests.policy.engine import POLICY_DIR, EngineResource, PolicyPackProcess, known_run, preview_run

# The policies module, importable as the pack's entry point imports it.
sys.path.insert(0, POLICY_DIR)


@pytest.fixture(scope="session")
def pack():
    process = PolicyPackProcess()
    yield process
    process.close()


@functools.lru_cache(maxsize=None)
def _base(stack: str, preview: bool) -> tuple:
    run, resources = (preview_run if preview else known_run)(stack)
    return run, resources


@pytest.fixture
def stack_resources():
    """``stack_resources(stack, preview=False)`` -> a fresh copy of a shipped stack's resources."""

    def get(stack: str, preview: bool = False) -> list[EngineResource]:
        return copy.deepcopy(_base(stack, preview)[1])

    return get
