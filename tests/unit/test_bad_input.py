"""Bad stack config fails with a ValueError naming the key and the allowed
values, before a single resource is registered (through the real stack
program, with ``overrides`` on a shipped stack file)."""

from __future__ import annotations

import pytest

from tests.support.stack_runner import run_stack

EXTERNAL_OK = "type: S3\nconfig:\n  bucket: b\n  endpoint: s3.example.com\n"

# id: (stack, overrides, substrings the message must contain: key..., allowed...)
CASES = {
    # The Query Frontend: camelCase keys, nested, each checked.
    "frontend-camel-unknown": ("k8s", {"agentstream:receive": {"queryFrontend": {"split_interval": "1h"}}}, ["receive.queryFrontend", "split_interval", "splitInterval"]),
    "frontend-enabled-string": ("k8s", {"agentstream:receive": {"queryFrontend": {"enabled": "true"}}}, ["receive.queryFrontend.enabled", "true, false"]),
    "frontend-disabled-with-keys": ("k8s", {"agentstream:receive": {"queryFrontend": {"enabled": False, "maxRetries": 3}}}, ["receive.queryFrontend.maxRetries", "has no effect"]),
    "frontend-zero-split": ("k8s", {"agentstream:receive": {"queryFrontend": {"splitInterval": "0h"}}}, ["receive.queryFrontend.splitInterval", "zero duration"]),
    "frontend-cache-type": ("k8s", {"agentstream:receive": {"queryFrontend": {"cache": {"type": "varnish"}}}}, ["receive.queryFrontend.cache.type", "in-memory, memcached, redis"]),
    "frontend-cache-size": ("k8s", {"agentstream:receive": {"queryFrontend": {"cache": {"maxSize": "lots"}}}}, ["receive.queryFrontend.cache.maxSize", "256MB"]),
    "frontend-memcached-url": ("k8s", {"agentstream:receive": {"queryFrontend": {"cache": {"type": "memcached", "addresses": ["http://mc:11211"]}}}}, ["receive.queryFrontend.cache.addresses[0]", "host:port"]),
    "frontend-memcached-string": ("k8s", {"agentstream:receive": {"queryFrontend": {"cache": {"type": "memcached", "addresses": "mc:11211"}}}}, ["receive.queryFrontend.cache.addresses", "list"]),
    "frontend-redis-with-addresses": ("k8s", {"agentstream:receive": {"queryFrontend": {"cache": {"type": "redis", "addresses": ["r:6379"]}}}}, ["receive.queryFrontend.cache.addresses", "has no effect with cache type 'redis'"]),
    "frontend-port-clash": ("dev", {"agentstream:receive": {"replicas": 3, "queryFrontend": {"port": 10902}}}, ["queryFrontend.port", "more than once"]),
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
    "latest-image": ("dev", {"agentstream:images": {"thanos": "quay.io/thanos/thanos:latest"}}, ["images.thanos", "uses the 'latest' tag", "allowed: repository:tag"]),
    "untagged-image": ("dev", {"agentstream:images": {"prometheus": "quay.io/prometheus/prometheus"}}, ["images.prometheus", "has no tag", "allowed: repository:tag"]),
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
    "latest-engine-image": ("k8s", {"agentstream:images": {"seaweedfs": "chrislusf/seaweedfs:latest"}}, ["images.seaweedfs", "uses the 'latest' tag"]),
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
    # A Python (snake_case) spelling in a stack file: the message names the camelCase key.
    "snake-case-receive-key": ("dev", {"agentstream:receive": {"replication_factor": 2}}, ["agentstream:receive.replication_factor", "did you mean 'replicationFactor'?"]),
    "snake-case-fleet-key": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "wal_size": "1Gi"}]}, ["agentstream:fleets[0].wal_size", "did you mean 'walSize'?"]),
    "snake-case-kubernetes-key": ("k8s", {"agentstream:kubernetes": {"namespace": "agentstream", "storage_class": "fast"}}, ["agentstream:kubernetes.storage_class", "did you mean 'storageClass'?"]),
    # Sizes are Kubernetes quantities of bytes, above zero.
    "store-size-words": ("dev", {"agentstream:objectStore": {"storageSize": "twenty gigs"}}, ["objectStore.storageSize", "'twenty gigs' is not a valid size", "10Gi, 500Mi or 500M"]),
    "store-size-milli": ("k8s", {"agentstream:objectStore": {"engine": "seaweedfs", "storageSize": "500m"}}, ["objectStore.storageSize", "'500m'", "positive Kubernetes quantity"]),
    "receive-size-space": ("k8s", {"agentstream:receive": {"storageSize": "10 Gi"}}, ["receive.storageSize", "'10 Gi'", "no space"]),
    "receive-size-empty": ("central", {"agentstream:receive": {"storageSize": ""}}, ["receive.storageSize", "''", "positive Kubernetes quantity"]),
    "receive-size-zero": ("dev", {"agentstream:receive": {"storageSize": "0Gi"}}, ["receive.storageSize", "'0Gi'", "positive"]),
    "wal-size-negative": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "walSize": "-5Gi"}]}, ["fleets[batmobile].walSize", "'-5Gi'", "positive Kubernetes quantity"]),
    "wal-size-number": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "walSize": 5}]}, ["fleets[batcopter].walSize", "5 is not a valid size", "10Gi"]),
    "wal-size-unit-case": ("dev", {"agentstream:fleets": [{"name": "batmobile", "walSize": "5gb"}]}, ["fleets[batmobile].walSize", "'5gb'", "Ki, Mi, Gi"]),
    # Kubernetes names: StorageClass is an object name, clusterDomain a DNS domain.
    "storage-class-upper": ("k8s", {"agentstream:kubernetes": {"namespace": "agentstream", "storageClass": "Fast_SSD"}}, ["kubernetes.storageClass", "'Fast_SSD'", "DNS-1123 subdomain"]),
    "storage-class-trailing-dash": ("central", {"agentstream:kubernetes": {"namespace": "agentstream", "storageClass": "ssd-"}}, ["kubernetes.storageClass", "'ssd-'", "starting and ending with a letter or digit"]),
    "cluster-domain-trailing-dot": ("k8s", {"agentstream:kubernetes": {"namespace": "agentstream", "clusterDomain": "cluster.local."}}, ["kubernetes.clusterDomain", "'cluster.local.'", "e.g. cluster.local"]),
    "cluster-domain-upper": ("edge-batmobile", {"agentstream:kubernetes": {"namespace": "edge-batmobile", "clusterDomain": "Cluster.Local"}}, ["kubernetes.clusterDomain", "'Cluster.Local'", "lower-case"]),
    "cluster-domain-long-label": ("k8s", {"agentstream:kubernetes": {"namespace": "agentstream", "clusterDomain": "c" * 64 + ".local"}}, ["kubernetes.clusterDomain", "each 1-63 characters"]),
    # Tenants: Thanos' rule (no '/', not empty), and no '.', '..', control characters.
    "tenant-with-slash": ("dev", {"agentstream:fleets": [{"name": "batmobile", "tenant": "wayne/batmobile"}]}, ["fleets[batmobile].tenant", "'wayne/batmobile' is not a valid Thanos tenant", "without '/'"]),
    "tenant-dot-dot": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "tenant": ".."}]}, ["fleets[batmobile].tenant", "'..'", "other than '.' and '..'"]),
    "tenant-empty": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "tenant": ""}]}, ["fleets[batmobile].tenant", "''", "a non-empty name"]),
    "tenant-newline": ("dev", {"agentstream:fleets": [{"name": "batmobile", "tenant": "bat\nmobile"}]}, ["fleets[batmobile].tenant", "control characters"]),
    "default-tenant-path": ("central", {"agentstream:receive": {"defaultTenant": "/default-tenant"}}, ["receive.defaultTenant", "'/default-tenant'", "without '/'"]),
    "default-tenant-padded": ("dev", {"agentstream:receive": {"defaultTenant": " default"}}, ["receive.defaultTenant", "surrounding spaces"]),
    "limits-tenant-path": ("k8s", {"agentstream:receive": {"limits": {"tenants": {"gotham/batmobile": {"series_limit": 5000}}}}}, ["receive.limits.tenants.gotham/batmobile", "not a valid Thanos tenant"]),
    "limits-tenant-dot": ("central", {"agentstream:receive": {"limits": {"tenants": {".": {"series_limit": 5000}}}}}, ["receive.limits.tenants..", "'.'", "other than '.' and '..'"]),
    # Scrape targets are host:port, nothing more.
    "target-with-scheme": ("dev", {"agentstream:fleets": [{"name": "batmobile", "staticTargets": ["http://node-exporter:9100"]}]}, ["fleets[batmobile].staticTargets[0]", "no scheme", "node-exporter:9100"]),
    "target-with-path": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "staticTargets": ["node-exporter:9100", "node-exporter:9100/metrics"]}]}, ["fleets[batmobile].staticTargets[1]", "no path", "port 1-65535"]),
    "target-port-zero": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "staticTargets": ["node-exporter:0"]}]}, ["fleets[batcopter].staticTargets[0]", "'node-exporter:0'", "port is not 1-65535"]),
    "target-without-port": ("dev", {"agentstream:fleets": [{"name": "batmobile", "staticTargets": ["node-exporter"]}]}, ["fleets[batmobile].staticTargets[0]", "no port"]),
    "target-bare-ipv6": ("dev", {"agentstream:fleets": [{"name": "batmobile", "staticTargets": ["fd00::1:9100"]}]}, ["fleets[batmobile].staticTargets[0]", "in brackets"]),
    "target-bad-ip": ("k8s", {"agentstream:fleets": [{"name": "batcopter", "staticTargets": ["10.0.0.256:9100"]}]}, ["fleets[batcopter].staticTargets[0]", "not a DNS name or IP address"]),
    "target-with-space": ("dev", {"agentstream:fleets": [{"name": "batmobile", "staticTargets": ["node exporter:9100"]}]}, ["fleets[batmobile].staticTargets[0]", "spaces"]),
    # A zero duration is not an interval or a retention.
    "zero-scrape-interval": ("dev", {"agentstream:fleets": [{"name": "batmobile", "scrapeInterval": "0m"}]}, ["fleets[batmobile].scrapeInterval", "'0m' is a zero duration", "above zero"]),
    "zero-wal-retention": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "walRetention": "0h"}]}, ["fleets[batcopter].walRetention", "'0h'", "above zero"]),
    "zero-receive-retention": ("dev", {"agentstream:receive": {"retention": "0d"}}, ["receive.retention", "'0d' is a zero duration"]),
    "zero-block-duration": ("k8s", {"agentstream:receive": {"blockDuration": "0h0m"}}, ["receive.blockDuration", "'0h0m'", "above zero"]),
    "ooo-window-over-retention": ("central", {"agentstream:receive": {"outOfOrderWindow": "1d"}}, ["receive.outOfOrderWindow", "longer than receive.retention"]),
    "ooo-window-not-duration": ("dev", {"agentstream:receive": {"outOfOrderWindow": True}}, ["receive.outOfOrderWindow", "True", "Prometheus duration"]),
    "zero-bucket-sync": ("central", {"agentstream:receive": {"bucketSyncInterval": "0m"}}, ["receive.bucketSyncInterval", "zero duration"]),
    "zero-batch-deadline": ("dev", {"agentstream:fleets": [{"name": "batmobile", "queueConfig": {"batch_send_deadline": "0ms"}}]}, ["fleets[batmobile].queueConfig.batch_send_deadline", "zero duration"]),
    # The remote-write URL is http(s) with a host.
    "url-no-host": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteUrl": "http://"}]}, ["fleets[batmobile].remoteWriteUrl", "'http://'", "no host", "https://receive.example.com"]),
    "url-empty-host": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "remoteWriteUrl": "https:///api/v1/receive"}]}, ["fleets[batcopter].remoteWriteUrl", "no host"]),
    "url-with-space": ("dev", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteUrl": "https://receive example.com/api/v1/receive"}]}, ["fleets[batmobile].remoteWriteUrl", "spaces"]),
    "url-no-scheme": ("dev", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteUrl": "central-receive:19291/api/v1/receive"}]}, ["fleets[batmobile].remoteWriteUrl", "http:// or https://"]),
    "url-with-credentials": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteUrl": "https://bat:mobile@receive.example.com/api/v1/receive"}]}, ["fleets[batmobile].remoteWriteUrl", "'https://***@receive.example.com/api/v1/receive'", "remoteWriteAuth"]),
    "url-bad-port": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "remoteWriteUrl": "https://receive.example.com:99999/api/v1/receive"}]}, ["fleets[batmobile].remoteWriteUrl", "port is not 1-65535"]),
    # Labels that would overwrite each other, or series two fleets would share.
    "replica-label-is-cluster": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "replicaLabel": "cluster"}]}, ["fleets[batmobile].replicaLabel", "'cluster' collides with the fleet's cluster label", "allowed: a label name other than 'cluster'"]),
    "replica-label-is-cluster-dev": ("dev", {"agentstream:fleets": [{"name": "batmobile", "replicaLabel": "cluster"}]}, ["fleets[batmobile].replicaLabel", "cluster label"]),
    "replica-label-is-external-label": ("edge-batcopter", {"agentstream:fleets": [{"name": "batcopter", "replicaLabel": "region", "externalLabels": {"region": "gotham"}}]}, ["fleets[batcopter].replicaLabel", "'region' collides with the fleet's externalLabels key", "externalLabels keys"]),
    "fleets-share-cluster-and-tenant": ("dev", {"agentstream:fleets": [{"name": "batmobile", "cluster": "gotham", "tenant": "wayne"}, {"name": "batcopter", "cluster": "gotham", "tenant": "wayne"}]}, ["fleets[batcopter].cluster", "'gotham' with tenant 'wayne'", "is also fleets[batmobile]'s", "merge", "allowed: a cluster label, tenant or externalLabels value of its own"]),
    "fleets-share-cluster-and-default-tenant": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "cluster": "gotham"}, {"name": "batcopter", "cluster": "gotham", "tenant": "batmobile"}]}, ["fleets[batcopter].cluster", "tenant 'batmobile'", "merge"]),
    "fleets-share-cluster-and-tenant-on-edge": ("edge-batmobile", {"agentstream:fleets": [{"name": "batmobile", "cluster": "gotham", "tenant": "wayne", "externalLabels": {"region": "eu"}}, {"name": "robin", "cluster": "gotham", "tenant": "wayne", "externalLabels": {"region": "eu"}}]}, ["fleets[robin].cluster", "fleets[batmobile]'s", "merge"]),
    # Sizing and scheduling: quantities, request <= limit, types, keys, Kubernetes-only keys on Docker.
    "resources-bad-memory": ("k8s", {"agentstream:receive": {"resources": {"queryFrontend": {"limits": {"memory": "2 GB"}}}}}, ["receive.resources.queryFrontend.limits.memory", "'2 GB'", "Kubernetes quantity of bytes"]),
    "resources-milli-memory": ("dev", {"agentstream:fleets": [{"name": "batmobile", "resources": {"requests": {"memory": "500m"}}}]}, ["fleets[batmobile].resources.requests.memory", "500Mi"]),
    "resources-bad-cpu": ("dev", {"agentstream:objectStore": {"resources": {"limits": {"cpu": "two"}}}}, ["objectStore.resources.limits.cpu", "'two'", "CPUs such as 250m"]),
    "resources-zero-cpu": ("k8s", {"agentstream:receive": {"resources": {"store": {"requests": {"cpu": "0m"}}}}}, ["receive.resources.store.requests.cpu", "positive"]),
    "resources-request-above-limit": ("k8s", {"agentstream:receive": {"resources": {"receive": {"requests": {"memory": "4Gi"}}}}}, ["receive.resources.receive.requests.memory", "4Gi is above its limit (2Gi)", "Kubernetes refuses"]),
    "resources-cpu-request-above-limit": ("dev", {"agentstream:fleets": [{"name": "batmobile", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}}]}, ["fleets[batmobile].resources.requests.cpu", "above its limit (500m)"]),
    "resources-unknown-role": ("k8s", {"agentstream:receive": {"resources": {"query_frontend": {}}}}, ["receive.resources.query_frontend", "queryFrontend"]),
    "resources-unknown-key": ("dev", {"agentstream:fleets": [{"name": "batmobile", "resources": {"request": {"cpu": "1"}}}]}, ["fleets[batmobile].resources.request", "requests"]),
    "resources-unknown-amount": ("k8s", {"agentstream:objectStore": {"resources": {"limits": {"mem": "1Gi"}}}}, ["objectStore.resources.limits.mem", "cpu, memory"]),
    "resources-string": ("k8s", {"agentstream:receive": {"resources": "big"}}, ["receive.resources", "mapping"]),
    "resources-on-external-store": ("k8s", {"agentstream:objectStore": {"engine": "external", "resources": {"limits": {"cpu": "1"}}}, "agentstream:objstoreConfig": EXTERNAL_OK}, ["objectStore.resources", "has no effect with engine 'external'"]),
    "scheduling-on-docker": ("dev", {"agentstream:receive": {"scheduling": {"nodeSelector": {"disk": "ssd"}}}}, ["receive.scheduling.nodeSelector", "has no effect on the docker target", "allowed: remove it"]),
    "scheduling-fleet-on-docker": ("dev", {"agentstream:fleets": [{"name": "batmobile", "scheduling": {"priorityClassName": "high"}}]}, ["fleets[batmobile].scheduling.priorityClassName", "docker target"]),
    "storage-class-on-docker": ("dev", {"agentstream:objectStore": {"storageClass": "fast"}}, ["objectStore.storageClass", "has no effect on the docker target"]),
    "storage-class-bad-name": ("k8s", {"agentstream:receive": {"storageClass": "Fast SSD"}}, ["receive.storageClass", "DNS-1123 subdomain"]),
    "scheduling-unknown-key": ("k8s", {"agentstream:receive": {"scheduling": {"node_selector": {"disk": "ssd"}}}}, ["receive.scheduling.node_selector", "nodeSelector"]),
    "scheduling-tolerations-string": ("k8s", {"agentstream:fleets": [{"name": "batmobile", "scheduling": {"tolerations": "dedicated=edge:NoSchedule"}}]}, ["fleets[batmobile].scheduling.tolerations", "must be a list"]),
    "scheduling-node-selector-list": ("k8s", {"agentstream:objectStore": {"scheduling": {"nodeSelector": ["ssd"]}}}, ["objectStore.scheduling.nodeSelector", "mapping of string to string"]),
    "scheduling-node-selector-bool": ("k8s", {"agentstream:receive": {"scheduling": {"nodeSelector": {"ssd": True}}}}, ["receive.scheduling.nodeSelector.ssd", "quote"]),
    "scheduling-toleration-effect": ("k8s", {"agentstream:receive": {"scheduling": {"tolerations": [{"key": "edge", "operator": "Exists", "effect": "NoScheduling"}]}}}, ["receive.scheduling.tolerations[0].effect", "NoSchedule, PreferNoSchedule, NoExecute"]),
    "scheduling-toleration-typo": ("k8s", {"agentstream:receive": {"scheduling": {"tolerations": [{"key": "edge", "opertor": "Exists"}]}}}, ["receive.scheduling.tolerations[0].opertor", "operator"]),
    "scheduling-affinity-string": ("k8s", {"agentstream:receive": {"scheduling": {"affinity": "zone-a"}}}, ["receive.scheduling.affinity", "mapping", "nodeAffinity"]),
    "scheduling-spread-when": ("k8s", {"agentstream:receive": {"scheduling": {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "Schedule"}]}}}, ["receive.scheduling.topologySpreadConstraints[0].whenUnsatisfiable", "DoNotSchedule, ScheduleAnyway"]),
    "scheduling-spread-skew": ("k8s", {"agentstream:receive": {"scheduling": {"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}]}}}, ["receive.scheduling.topologySpreadConstraints[0].maxSkew", ">= 1"]),
    "scheduling-priority-class": ("k8s", {"agentstream:receive": {"scheduling": {"priorityClassName": "High Priority"}}}, ["receive.scheduling.priorityClassName", "DNS-1123"]),
}


@pytest.mark.parametrize("stack,overrides,needles", list(CASES.values()), ids=list(CASES))
def test_bad_input_raises_before_any_resource(stack, overrides, needles):
    with pytest.raises(ValueError) as e:
        run_stack(stack, overrides=overrides)
    message = str(e.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert e.value.recorded == [], [r.name for r in e.value.recorded]


# Control: valid values of each class above still deploy.
GOOD = {
    "sizes-names-on-k8s": ("k8s", {
        "agentstream:kubernetes": {"namespace": "agentstream", "storageClass": "fast-ssd.csi.example.com", "clusterDomain": "corp.example"},
        "agentstream:objectStore": {"engine": "seaweedfs", "storageSize": "1.5Ti"},
        "agentstream:receive": {"storageSize": "500M", "defaultTenant": "anonymous", "limits": {"tenants": {"528d0490-8720-4478-aa29-819d90fc9a9f": {"series_limit": 5000}}}},
        "agentstream:fleets": [
            {"name": "batmobile", "walSize": "1e9", "tenant": "wayne_enterprises", "staticTargets": ["node-exporter:9100", "10.0.0.1:9100", "[fd00::1]:9100"]},
            # Same cluster, another tenant: series stay apart.
            {"name": "batcopter", "cluster": "batmobile", "walSize": "512Mi", "scrapeInterval": "1m30s"},
        ],
    }),
    "no-storage-class-on-k8s": ("k8s", {"agentstream:kubernetes": {"namespace": "agentstream", "storageClass": ""}}),
    "zero-where-it-means-forever": ("dev", {
        "agentstream:receive": {"bucketRetentionRaw": "0s", "bucketRetention5m": "0h", "bucketRetention1h": "0d"},
        "agentstream:fleets": [
            {"name": "batmobile", "queueConfig": {"sample_age_limit": "0s"}, "staticTargets": ["my_exporter:9100", "host.example.com.:9100"]},
            # Same cluster and tenant, told apart by another external label.
            {"name": "batcopter", "cluster": "gotham", "tenant": "wayne", "externalLabels": {"vehicle": "air"}},
            {"name": "tumbler", "cluster": "gotham", "tenant": "wayne", "externalLabels": {"vehicle": "ground"}},
        ],
    }),
    "explicit-url-on-edge": ("edge-batmobile", {"agentstream:fleets": [
        {"name": "batmobile", "remoteWriteUrl": "https://receive.example.com:8443/api/v1/receive", "replicaLabel": "agent", "externalLabels": {"region": "eu"}, "remoteWriteAuth": {"type": "basic", "username": "batmobile"}},
    ]}),
}


@pytest.mark.parametrize("stack,overrides", list(GOOD.values()), ids=list(GOOD))
def test_valid_values_of_each_class_are_accepted(stack, overrides):
    run = run_stack(stack, overrides=overrides)
    assert run.resources
    assert set(run.outputs["fleets"]) == {f["name"] for f in run.config["agentstream:fleets"]}


def test_valid_values_reach_the_resources():
    run = run_stack("k8s", overrides=GOOD["sizes-names-on-k8s"][1])
    claims = {
        w.inputs["metadata"]["name"]: claim["spec"]
        for w in run.resources if w.type == "kubernetes:apps/v1:StatefulSet"
        for claim in w.inputs["spec"].get("volumeClaimTemplates") or []
    }
    assert claims["objstore-seaweedfs"]["resources"]["requests"]["storage"] == "1.5Ti"
    assert claims["central-receive"]["resources"]["requests"]["storage"] == "500M"
    assert claims["batmobile-agent"]["resources"]["requests"]["storage"] == "1e9"
    assert {c["storageClassName"] for c in claims.values()} == {"fast-ssd.csi.example.com"}
    assert run.outputs["remote_write_url"].endswith(".agentstream.svc.corp.example:19291/api/v1/receive")
    blank = run_stack("k8s", overrides=GOOD["no-storage-class-on-k8s"][1])
    assert {
        claim["spec"]["storageClassName"]
        for w in blank.resources if w.type == "kubernetes:apps/v1:StatefulSet"
        for claim in w.inputs["spec"].get("volumeClaimTemplates") or []
    } == {""}


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
