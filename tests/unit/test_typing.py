"""The package type-checks: mypy with the settings in pyproject.toml ([tool.mypy]).

The package ships ``py.typed``, so programs that import it are checked against
its annotations; these tests keep those annotations true. A control shows the
same run reports a deliberately wrong snippet, so the main test can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
PACKAGE = REPO / "components" / "agentstream"


def run_mypy(monkeypatch: pytest.MonkeyPatch, *paths: str) -> tuple[str, int]:
    """mypy as `python3 -m mypy [paths]` from the repository root: the
    settings' relative paths (files, mypy_path) are relative to it."""
    monkeypatch.chdir(REPO)
    stdout, stderr, status = api.run(["--config-file", str(PYPROJECT), "--no-pretty", *paths])
    return stdout + stderr, status


def test_package_type_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    out, status = run_mypy(monkeypatch)
    assert status == 0, f"mypy found errors (run `python3 -m mypy` in the repository root):\n{out}"
    assert "Success: no issues found" in out
    # The run covered the package (the files setting), not nothing.
    checked = re.search(r"in (\d+) source files", out)
    assert checked is not None and int(checked.group(1)) == len(list(PACKAGE.rglob("*.py"))), out


CONTROL = '''\
from agentstream.validation import check_int


def replicas(value):
    return value


count: str = check_int("receive.replicas", 3, 1)
size = len("abc")  # type: ignore[arg-type]
'''


def test_mypy_reports_a_wrong_snippet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    snippet = tmp_path / "typing_control.py"
    snippet.write_text(CONTROL)
    out, status = run_mypy(monkeypatch, str(snippet))
    assert status == 1, out
    codes = set(re.findall(r"typing_control\.py:\d+: error: .*\[([a-z-]+)\]$", out, re.M))
    # The untyped def (disallow_untyped_defs), the wrong type against the
    # package's own annotations, an ignore that hides nothing (warn_unused_ignores).
    assert codes == {"no-untyped-def", "assignment", "unused-ignore"}, out


def test_py_typed_is_shipped() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    assert (PACKAGE / "py.typed").is_file()
    package_data = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["agentstream"]
    assert "py.typed" in package_data
