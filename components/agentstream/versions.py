"""Pinned images, in one place.

Every image the components run is pinned here, so one change upgrades the
whole pipeline. Tags only, never ``latest``: a pipeline that changes under a
``pulumi up`` nobody asked for is the bug this file prevents.
"""

from __future__ import annotations

# Prometheus v3: agent mode is the ``--agent`` flag. The Go module of release
# v3.X.Y is github.com/prometheus/prometheus v0.3XX.Y.
PROMETHEUS_VERSION = "v3.16.0"
# Thanos Receive / Query / Store / Compact all ship in one binary.
THANOS_VERSION = "v0.42.5"
# Alertmanager receives the Ruler's alerts when the stack deploys its own.
ALERTMANAGER_VERSION = "v0.35.0"
# SeaweedFS is the default object store (Apache-2.0).
SEAWEEDFS_VERSION = "4.48"
# MinIO stopped publishing images; this is its last community release.
MINIO_VERSION = "RELEASE.2025-10-15T17-29-55Z"

PROMETHEUS_IMAGE = f"quay.io/prometheus/prometheus:{PROMETHEUS_VERSION}"
THANOS_IMAGE = f"quay.io/thanos/thanos:{THANOS_VERSION}"
ALERTMANAGER_IMAGE = f"quay.io/prometheus/alertmanager:{ALERTMANAGER_VERSION}"
SEAWEEDFS_IMAGE = f"chrislusf/seaweedfs:{SEAWEEDFS_VERSION}"
MINIO_IMAGE = f"quay.io/minio/minio:{MINIO_VERSION}"

DEFAULT_IMAGES = {
    "prometheus": PROMETHEUS_IMAGE,
    "thanos": THANOS_IMAGE,
    "alertmanager": ALERTMANAGER_IMAGE,
    "seaweedfs": SEAWEEDFS_IMAGE,
    "minio": MINIO_IMAGE,
}
