"""Storage permissions on real pods (``-m k8s_real``).

The local cluster's default StorageClass hands out world-writable
directories, which would hide a missing ``fsGroup``. Here the volumes are
``local`` PersistentVolumes on directories owned by root with mode 0755, as
many CSI drivers provision them: the non-root agent (uid 65534) can write its
WAL only because its pod's ``fsGroup`` makes the kubelet give the volume to
its group. A control pod with the same kind of volume and no ``fsGroup`` is
refused, so the check can fail.

Needs to create the directories on the node, so it runs where the node is
this host (the k8s-local cluster, as root); elsewhere it skips.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from agentstream import versions
from tests.support.pipeline import wait_for
from tests.support.real_stack import REPO, log

pytestmark = pytest.mark.k8s_real

NS = "k8s-strict"
CLASS = "agentstream-strict"
PROGRAM = REPO / "tests" / "k8s" / "programs" / "strict-storage"
NODE = os.environ.get("K8S_LOCAL_NODE_NAME", "localhost")


def local_pv(name: str, path: Path) -> dict:
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "agentstream-test"}},
        "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": CLASS,
            "local": {"path": str(path)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [NODE]}]}
            ]}},
        },
    }


@pytest.fixture
def strict_volumes(kube, tmp_path_factory):
    if os.geteuid() != 0 or not any(n["metadata"]["name"] == NODE for n in kube.items("nodes")):
        pytest.skip("needs the node to be this host (k8s-local) and root, to prepare its directories")
    root = tmp_path_factory.mktemp("strict-volumes")
    root.chmod(0o755)
    dirs = []
    for i in range(2):
        d = root / f"pv-{i}"
        d.mkdir(mode=0o755)
        os.chown(d, 0, 0)
        dirs.append(d)
    kube.apply({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": CLASS},
        "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer",
    })
    for i, d in enumerate(dirs):
        kube.apply(local_pv(f"{CLASS}-{i}", d))
    yield dirs
    kube.run("delete", "namespace", NS, "--wait=true", check=False, timeout=180)
    kube.run("delete", "pv", "-l", "app.kubernetes.io/part-of=agentstream-test", check=False)
    kube.run("delete", "storageclass", CLASS, check=False)
    shutil.rmtree(root, ignore_errors=True)


def test_non_root_workloads_write_to_root_owned_volumes(backend, kube, strict_volumes):
    # Control first: a pod as uid 65534 without fsGroup cannot write to such a volume.
    kube.run("create", "namespace", NS)
    kube.apply({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "control", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": CLASS, "resources": {"requests": {"storage": "1Gi"}}},
    })
    kube.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "control", "namespace": NS},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534},
            "containers": [{
                "name": "agent", "image": versions.PROMETHEUS_IMAGE,
                "args": ["--agent", "--config.file=/dev/null", "--storage.agent.path=/data/wal"],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "control"}}],
        },
    })
    wait_for("the control pod to fail", lambda: kube.json("get", "pod", "control", "-n", NS)["status"].get("phase") == "Failed", timeout=120, interval=3)
    logs = kube.run("logs", "-n", NS, "control").stdout
    assert "permission denied" in logs, logs[-2000:]
    log("control: uid 65534 without fsGroup is refused by the root-owned 0755 volume")
    kube.run("delete", "pod", "control", "-n", NS, "--wait=true", timeout=120)

    # The component: its pod's fsGroup makes the same kind of volume writable.
    stack = backend.stack("strict", {"strict:namespace": NS, "strict:storageClass": CLASS}, program=PROGRAM)
    stack.up()
    (agent,) = stack.outputs()["agents"]
    pod = kube.json("get", "pod", agent, "-n", NS)
    assert pod["spec"]["securityContext"]["fsGroup"] == 65534
    used = [d for d in strict_volumes if any(d.iterdir())]
    # The control's volume holds nothing; the agent's holds its WAL, group-owned by the fsGroup.
    wal = wait_for("the agent's WAL on its volume", lambda: [p for d in strict_volumes for p in d.glob("wal/*")], timeout=60, interval=3)
    assert used and all(d.stat().st_gid == 65534 for d in used), [(d, d.stat().st_gid) for d in used]
    log(f"the agent wrote {len(wal)} WAL entries to a root-owned volume through fsGroup")
    time.sleep(5)
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    assert restarts == 0
    stack.destroy()
