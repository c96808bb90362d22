"""Bad stack config fails with a ValueError naming the key and the allowed
values, before a single resource is registered (through the real stack
program, with ``overrides`` on a shipped stack file)."""

from __future__ import annotations

import pytest

from tests.support.stack_runner import run_stack

EXTERNAL_OK = "type: S3\nconfig:\n  bucket: b\n  endpoint: s3.example.com\n"

# id: (stack, overrides, substrings the message must contain: key..., allowed...)
CASES = {
    "rf-greater-than-replicas": ("dev", {"agentstream:receive": {"replicas": 2, "replicationFactor": 3}}, ["replicationFactor", "allowed values: 1 to 2"]),
    "rf-zero": ("dev", {"agentstream:receive": {"replicas": 3, "replicationFactor": 0}}, ["replicationFactor", "allowed values: integers >= 1"]),
    "rf-negative": ("k8s", {"agentstream:receive": {"replicationFactor": -1}}, ["replicationFactor", ">= 1"]),
    "zero-agents": ("dev", {"agentstream:fleets": [{"name": "batmobile", "agents": 0}]}, ["agents", "between 1 and 32"]),
    "zero-agents-edge": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "agents": 0}]}, ["agents", "between 1 and 32"]),
    "no-fleets": ("dev", {"agentstream:fleets": []}, ["agentstream:fleets", "at least one fleet"]),
    "bad-receive-label": ("dev", {"agentstream:receive": {"replicaLabel": "receive-replica"}}, ["replicaLabel", "allowed: [a-zA-Z_][a-zA-Z0-9_]*"]),
    "bad-tenant-label": ("k8s", {"agentstream:receive": {"tenantLabel": "tenant.id"}}, ["tenantLabel", "allowed: [a-zA-Z_]"]),
    "bad-external-label": ("dev", {"agentstream:fleets": [{"name": "batmobile", "externalLabels": {"bat-cave": "x"}}]}, ["externalLabels.bat-cave", "allowed: [a-zA-Z_]"]),
    "bad-fleet-replica-label": ("dev", {"agentstream:fleets": [{"name": "batmobile", "replicaLabel": "0replica"}]}, ["replicaLabel", "allowed: [a-zA-Z_]"]),
    "colliding-labels": ("dev", {"agentstream:fleets": [{"name": "batmobile", "externalLabels": {"receive_replica": "x"}}]}, ["externalLabels", "receive_replica", "allowed: any other label name"]),
    "bad-retention": ("dev", {"agentstream:receive": {"retention": "6hours"}}, ["receive.retention", "allowed: a Prometheus duration"]),
    "bad-block-duration": ("dev", {"agentstream:receive": {"blockDuration": "2 h"}}, ["receive.blockDuration", "Prometheus duration"]),
    "bad-scrape-interval": ("dev", {"agentstream:fleets": [{"name": "batmobile", "scrapeInterval": "fast"}]}, ["scrapeInterval", "allowed: a Prometheus duration"]),
    "bad-wal-retention": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "walRetention": "4"}]}, ["walRetention", "Prometheus duration"]),
    "unknown-engine": ("dev", {"agentstream:objectStore": {"engine": "ceph"}}, ["objectStore.engine", "seaweedfs, minio, filesystem, external"]),
    "external-without-config": ("dev", {"agentstream:objectStore": {"engine": "external"}}, ["objstoreConfig", "external"]),
    "external-bad-config": ("k8s", {"agentstream:objectStore": {"engine": "external"}, "agentstream:objstoreConfig": "bucket: b\n"}, ["objectStore.externalConfig", "allowed types: S3"]),
    "duplicate-fleets": ("dev", {"agentstream:fleets": [{"name": "batmobile"}, {"name": "batmobile"}]}, ["agentstream:fleets", "'batmobile'", "unique names"]),
    "port-collision": ("dev", {"agentstream:receive": {"queryPort": 19291}}, ["queryPort", "remoteWritePort", "unique values"]),
    "port-collision-explicit": ("dev", {"agentstream:receive": {"queryPort": 9000, "remoteWritePort": 9000}}, ["queryPort", "remoteWritePort", "unique values"]),
    "port-out-of-range": ("dev", {"agentstream:receive": {"remoteWritePort": 0}}, ["remoteWritePort", "between 1 and 65535"]),
    "filesystem-on-kubernetes": ("k8s", {"agentstream:objectStore": {"engine": "filesystem"}}, ["objectStore.engine", "filesystem", "seaweedfs, minio, external"]),
    "filesystem-on-central": ("central", {"agentstream:objectStore": {"engine": "filesystem"}}, ["objectStore.engine", "seaweedfs, minio, external"]),
    "unknown-top-level-key": ("dev", {"agentstream:recieve": {"replicas": 3}}, ["agentstream:recieve", "allowed keys", "receive"]),
    "unknown-receive-key": ("dev", {"agentstream:receive": {"replica": 3}}, ["agentstream:receive.replica", "allowed keys", "replicas"]),
    "unknown-fleet-key": ("dev", {"agentstream:fleets": [{"name": "batmobile", "agent": 2}]}, ["fleets[0].agent", "allowed keys", "agents"]),
    "unknown-objectstore-key": ("dev", {"agentstream:objectStore": {"engin": "minio"}}, ["objectStore.engin", "allowed keys", "engine"]),
    "unknown-docker-key": ("dev", {"agentstream:docker": {"netwrok": "x"}}, ["docker.netwrok", "allowed keys", "network"]),
    "unknown-kubernetes-key": ("k8s", {"agentstream:kubernetes": {"namespace": "a", "storageclass": "x"}}, ["kubernetes.storageclass", "storageClass"]),
    "unknown-image-key": ("dev", {"agentstream:images": {"grafana": "grafana/grafana:11.0.0"}}, ["images.grafana", "allowed keys", "prometheus, thanos"]),
    "latest-image": ("dev", {"agentstream:images": {"thanos": "quay.io/thanos/thanos:latest"}}, ["images.thanos", "not 'latest'"]),
    "untagged-image": ("dev", {"agentstream:images": {"prometheus": "quay.io/prometheus/prometheus"}}, ["images.prometheus", "pinned to a tag or digest"]),
    # Booleans must be booleans: YAML strings and numbers are not read as truthy.
    "bool-string-docker-wait": ("dev", {"agentstream:docker": {"wait": "false"}}, ["docker.wait", "'false'", "allowed values: true, false"]),
    "bool-int-docker-wait": ("dev", {"agentstream:docker": {"wait": 1}}, ["docker.wait", "allowed values: true, false"]),
    "bool-string-create-network": ("dev", {"agentstream:docker": {"createNetwork": "no"}}, ["docker.createNetwork", "'no'", "true, false"]),
    "bool-string-create-namespace": ("k8s", {"agentstream:kubernetes": {"createNamespace": "false"}}, ["kubernetes.createNamespace", "true, false"]),
    "bool-string-publish-rw": ("dev", {"agentstream:receive": {"publishRemoteWrite": "no"}}, ["receive.publishRemoteWrite", "true, false"]),
    "bool-int-kubernetes-sd": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "kubernetesSd": 0}]}, ["kubernetesSd", "true, false"]),
    # A list key given a string is an error, not a list of characters.
    "list-as-string-static-targets": ("dev", {"agentstream:fleets": [{"name": "batmobile", "staticTargets": "node-exporter:9100"}]}, ["staticTargets", "must be a list"]),
    "list-as-string-replica-labels": ("dev", {"agentstream:receive": {"agentReplicaLabels": "prometheus_replica"}}, ["receive.agentReplicaLabels", "must be a list"]),
    "latest-engine-image": ("k8s", {"agentstream:images": {"seaweedfs": "chrislusf/seaweedfs:latest"}}, ["images.seaweedfs", "not 'latest'"]),
    "unknown-target": ("dev", {"agentstream:target": "nomad"}, ["agentstream:target", "docker, kubernetes"]),
    "unknown-role": ("dev", {"agentstream:role": "hub"}, ["agentstream:role", "all, central, edge"]),
    "unknown-hashring-algorithm": ("dev", {"agentstream:receive": {"hashringAlgorithm": "consistent"}}, ["hashringAlgorithm", "ketama, hashmod"]),
    "kubernetes-section-on-docker": ("dev", {"agentstream:kubernetes": {"namespace": "x"}}, ["agentstream:kubernetes", "target kubernetes"]),
    "kubernetes-sd-on-docker": ("dev", {"agentstream:fleets": [{"name": "batmobile", "kubernetesSd": True}]}, ["kubernetesSd", "kubernetes target"]),
    "bad-restart": ("dev", {"agentstream:docker": {"restart": "sometimes"}}, ["docker.restart", "no, on-failure, always, unless-stopped"]),
    "bad-namespace": ("k8s", {"agentstream:kubernetes": {"namespace": "Agent_Stream"}}, ["kubernetes.namespace", "lower-case letters"]),
    "bad-fleet-name": ("dev", {"agentstream:fleets": [{"name": "Bat_Mobile"}]}, ["fleet.name", "lower-case letters"]),
    "fleets-on-central": ("central", {"agentstream:fleets": [{"name": "batmobile"}]}, ["agentstream:fleets", "edge stacks"]),
    "edge-without-central": ("edge-batmobile", {"agentstream:centralStack": ""}, ["agentstream:centralStack", "remoteWriteUrl"]),
    "bad-bucket": ("dev", {"agentstream:objectStore": {"bucket": "My_Bucket"}}, ["objectStore.bucket", "lower-case letters"]),
    "bad-publish-address": ("dev", {"agentstream:docker": {"publishAddress": "localhost"}}, ["docker.publishAddress", "allowed: an address"]),
    "limits-below-batch": ("dev", {"agentstream:receive": {"limits": {"request": {"samples_limit": 500}}}}, ["fleets[batmobile].queueConfig.max_samples_per_send", "samples_limit (500)", "allowed values: 1 to 500"]),
    "tenant-limit-below-batch": ("k8s", {"agentstream:receive": {"limits": {"tenants": {"batcopter": {"series_limit": 100}}}}}, ["fleets[batcopter].queueConfig.max_samples_per_send", "series_limit (100)", "'batcopter'"]),
    "unknown-limits-key": ("central", {"agentstream:receive": {"limits": {"request": {"seriesLimit": 10}}}}, ["receive.limits.request.seriesLimit", "allowed keys: size_bytes_limit, series_limit, samples_limit"]),
    "negative-limit": ("k8s", {"agentstream:receive": {"limits": {"max_concurrency": -1}}}, ["receive.limits.max_concurrency", ">= 0"]),
    "bad-queue-value": ("dev", {"agentstream:fleets": [{"name": "batmobile", "queueConfig": {"max_shards": 0}}]}, ["queueConfig.max_shards", "integers >= 1"]),
    "ingress-bad-host": ("central", {"agentstream:kubernetes": {"namespace": "agentstream", "ingress": {"host": "receive"}}}, ["kubernetes.ingress.host", "fully qualified"]),
    "ingress-unknown-key": ("central", {"agentstream:kubernetes": {"ingress": {"host": "r.example.com", "tls": "x"}}}, ["kubernetes.ingress.tls", "allowed keys", "tlsSecretName"]),
    "ingress-on-edge": ("edge-batmobile", {"agentstream:kubernetes": {"namespace": "edge-batmobile", "ingress": {"host": "r.example.com"}}}, ["kubernetes.ingress", "nothing to expose"]),
    "ingress-without-published-rw": ("central", {"agentstream:receive": {"publishRemoteWrite": False}}, ["kubernetes.ingress", "nothing to expose"]),
    "bad-central-endpoint": ("edge-batcopter", {"agentstream:centralEndpoint": "public"}, ["agentstream:centralEndpoint", "internal, external"]),
    "central-endpoint-without-central": ("edge-batcopter", {"agentstream:centralStack": "", "agentstream:fleets": [{"name": "batcopter", "remoteWriteUrl": "https://r.example.com/api/v1/receive"}]}, ["agentstream:centralEndpoint", "centralStack"]),
    "auth-without-secret": ("dev", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteAuth": {"type": "bearer"}}]}, ["agentstream:remoteWriteSecret", "fleets[batmobile].remoteWriteAuth", "pulumi config set --secret"]),
    "secret-without-auth": ("dev", {"agentstream:remoteWriteSecret": "s3cret-value"}, ["agentstream:remoteWriteSecret", "no fleet has remoteWriteAuth"]),
    "bad-auth-type": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteAuth": {"type": "digest"}}]}, ["fleets[batmobile].remoteWriteAuth.type", "bearer, basic"]),
    "basic-auth-without-user": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "remoteWriteAuth": {"type": "basic"}}]}, ["fleets[batcopter].remoteWriteAuth.username", "required for basic"]),
    "auth-password-in-stack-file": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "remoteWriteAuth": {"type": "basic", "username": "b", "password": "x"}}]}, ["fleets[0].remoteWriteAuth.password", "allowed keys: type, username"]),
    "raw-retention-too-short": ("k8s", {"agentstream:receive": {"bucketRetentionRaw": "24h"}}, ["receive.bucketRetentionRaw", "0d (forever) or at least 40h"]),
    "unknown-queue-key": ("dev", {"agentstream:fleets": [{"name": "batmobile", "queueConfig": {"maxShards": 4}}]}, ["queueConfig", "allowed keys", "max_shards"]),
}


@pytest.mark.parametrize("stack,overrides,needles", list(CASES.values()), ids=list(CASES))
def test_bad_input_raises_before_any_resource(stack, overrides, needles):
    with pytest.raises(ValueError) as e:
        run_stack(stack, overrides=overrides)
    message = str(e.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert e.value.recorded == [], [r.name for r in e.value.recorded]


def test_good_overrides_are_accepted():
    """Control: the same mechanism with valid values registers resources."""
    run = run_stack(
        "dev",
        overrides={
            "agentstream:receive": {"replicas": 2, "replicationFactor": 1, "queryPort": 19090},
            "agentstream:objectStore": {"engine": "external"},
            "agentstream:objstoreConfig": EXTERNAL_OK,
            "agentstream:images": {"thanos": "quay.io/thanos/thanos:v0.41.0"},
        },
    )
    assert run.resources
    assert run.outputs["query_url"] == "http://127.0.0.1:19090"
