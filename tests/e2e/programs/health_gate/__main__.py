"""The health gate's own e2e program (tests/e2e/test_health_gate.py).

Two Thanos Query containers on their own network (``gate-*``), both checked
on port 10902: ``gate-ok`` serves HTTP there and is healthy once Query
answers; ``gate-bad`` serves it on ``gate:badPort`` instead, so its check
never passes (unset: 10902 too, and the same program succeeds). The port is
in the command, which the provider replaces a container for; a changed
healthcheck it "updates" in place without touching the running container. Each has its ContainerHealthy gate, with a
short timeout (``gate:timeout``) so a failure shows in seconds.
"""

import pulumi
import pulumi_docker as docker

from agentstream import versions
from agentstream.targets.docker_health import ContainerHealthy

config = pulumi.Config("gate")
timeout = config.get_int("timeout") or 20
bad_port = config.get_int("badPort") or 10902

image = docker.RemoteImage("gate-image", name=versions.DEFAULT_IMAGES["thanos"], keep_locally=True)
network = docker.Network("gate-network", name="agentstream-gate")
gates = {}
for name, port in (("gate-ok", 10902), ("gate-bad", bad_port)):
    container = docker.Container(
        name,
        name=name,
        image=image.image_id,
        entrypoints=["thanos"],
        command=["query", f"--http-address=0.0.0.0:{port}", "--grpc-address=0.0.0.0:10901"],
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:10902/-/ready"],
            interval="1s", timeout="1s", retries=3, start_period="0s",
        ),
        labels=[docker.ContainerLabelArgs(label="app.kubernetes.io/part-of", value="agentstream")],
        must_run=True,
        wait=False,
    )
    gates[name] = ContainerHealthy(f"{name}-healthy", container.id, container.name, timeout=timeout)
pulumi.export("gates", {n: g.id for n, g in gates.items()})
