"""Shared set-up for the real (e2e) tests: local images, binaries, Docker."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from agentstream import versions

CACHE = os.environ.get("AGENTSTREAM_CACHE", os.path.expanduser("~/.cache/agentstream"))
LOCAL_REGISTRY = "agentstream.local"

# The e2e stack's images: local builds of exactly the versions the package pins.
LOCAL_IMAGES = {
    "prometheus": f"{LOCAL_REGISTRY}/prometheus:{versions.PROMETHEUS_VERSION}",
    "thanos": f"{LOCAL_REGISTRY}/thanos:{versions.THANOS_VERSION}",
    "seaweedfs": f"{LOCAL_REGISTRY}/seaweedfs:{versions.SEAWEEDFS_VERSION}",
}


def _missing(reason: str):
    # Locally, a missing real part skips with the fix; in CI it must fail,
    # because .ci/run installs everything first.
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs scripts/e2e-setup.sh first; did it fail?)")
    pytest.skip(f"{reason}; run: bash scripts/e2e-setup.sh")


def binary(name: str) -> str:
    paths = {
        "prometheus": os.path.join(CACHE, "bin", f"prometheus-{versions.PROMETHEUS_VERSION}", "prometheus"),
        "promtool": os.path.join(CACHE, "bin", f"prometheus-{versions.PROMETHEUS_VERSION}", "promtool"),
        "thanos": os.path.join(CACHE, "bin", f"thanos-{versions.THANOS_VERSION}", "thanos"),
    }
    path = paths.get(name) or shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        _missing(f"{name} binary not built")
    return path


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means no usable engine
        _missing(f"no Docker engine answers ({e.__class__.__name__})")
    for ref in LOCAL_IMAGES.values():
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            _missing(f"local image {ref} not built")
    return client


@pytest.fixture(scope="session")
def promtool() -> str:
    return binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return binary("prometheus")


@pytest.fixture(scope="session")
def thanos_binary() -> str:
    return binary("thanos")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)
