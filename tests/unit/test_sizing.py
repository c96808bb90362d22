"""Sizing and scheduling: requests and limits on both targets, scheduling and
storage class on Kubernetes, defaults unchanged, keys overriding only themselves."""

from __future__ import annotations

import pytest

from agentstream.agent_fleet import DEFAULT_RESOURCES as AGENT_DEFAULT
from agentstream.object_store import DEFAULT_RESOURCES as STORE_DEFAULTS
from agentstream.receive_cluster import DEFAULT_RESOURCES as RECEIVE_DEFAULTS
from agentstream.settings import thaw
from agentstream.sizing import validate_resources, validate_scheduling
from agentstream.spec import Resources
from tests.support import resources as R
from tests.support.k8s_schema import validate_k8s_resources

SCHEDULING = {
    "nodeSelector": {"node.example.com/pool": "metrics"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "metrics", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]
            }
        }
    },
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app.kubernetes.io/part-of": "agentstream"}}}
    ],
    "priorityClassName": "metrics-critical",
}
K8S_OVERRIDES = {
    "agentstream:objectStore": {"engine": "seaweedfs", "storageClass": "bulk", "resources": {"limits": {"memory": "3Gi"}}},
    "agentstream:receive": {
        "routerReplicas": 2,
        "queryFrontend": {"enabled": True},
        "storageClass": "fast-ssd",
        "scheduling": SCHEDULING,
        "resources": {
            "receive": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": 4, "memory": "8Gi"}},
            "queryFrontend": {"limits": {"memory": "512Mi"}},
            "compact": {"requests": {"memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        },
    },
    "agentstream:fleets": [
        {"name": "batmobile", "resources": {"requests": {"cpu": "50m"}}, "scheduling": {"nodeSelector": {"edge": "true"}}},
        {"name": "batcopter"},
    ],
}


def test_defaults_are_todays_values():
    assert RECEIVE_DEFAULTS["receive"] == Resources("250m", "512Mi", "2", "2Gi")
    assert AGENT_DEFAULT == Resources("100m", "256Mi", "1", "1Gi")
    assert STORE_DEFAULTS == {"seaweedfs": Resources("100m", "256Mi", "1", "1Gi"), "minio": Resources()}
    assert all(RECEIVE_DEFAULTS[role] == Resources() for role in ("router", "query", "query_frontend", "store", "compact"))
    assert Resources() == Resources("100m", "128Mi", "1", "1Gi")


def test_a_key_overrides_only_itself():
    base = Resources("250m", "512Mi", "2", "2Gi")
    assert validate_resources("r", {"limits": {"memory": "3Gi"}}, base) == Resources("250m", "512Mi", "2", "3Gi")
    assert validate_resources("r", {"requests": {"cpu": 1}}, base) == Resources("1", "512Mi", "2", "2Gi")
    # A limit alone below the default request lowers the request with it.
    assert validate_resources("r", {"limits": {"memory": "256Mi"}}, base) == Resources("250m", "256Mi", "2", "256Mi")
    assert validate_resources("r", None, base) is base


def test_scheduling_is_checked_and_kept_raw():
    snake = {"node_selector": SCHEDULING["nodeSelector"], "tolerations": SCHEDULING["tolerations"],
             "affinity": SCHEDULING["affinity"], "topology_spread_constraints": [], "priority_class_name": "p"}
    checked = validate_scheduling("s", snake, "kubernetes")
    # Kept as given (only read-only: a settings object cannot be changed after validation).
    assert thaw(checked) == snake
    with pytest.raises(TypeError):
        checked["node_selector"] = {}  # type: ignore[index]
    assert validate_scheduling("s", {}, "docker") == {}
    with pytest.raises(ValueError, match="has no effect on the docker target"):
        validate_scheduling("s", {"tolerations": []}, "docker")


def test_shipped_k8s_stack_keeps_todays_resources_and_spreads_receivers(stacks):
    run = stacks("k8s")
    expected = {
        "central-receive": ("250m", "512Mi", "2", "2Gi"),
        "central-router": ("100m", "128Mi", "1", "1Gi"),
        "central-query": ("100m", "128Mi", "1", "1Gi"),
        "central-query-frontend": ("100m", "128Mi", "1", "1Gi"),
        "central-store": ("100m", "128Mi", "1", "1Gi"),
        "central-compact": ("100m", "128Mi", "1", "1Gi"),
        "objstore-seaweedfs": ("100m", "256Mi", "1", "1Gi"),
        "batmobile-agent": ("100m", "256Mi", "1", "1Gi"),
    }
    for name, (cpu_r, mem_r, cpu_l, mem_l) in expected.items():
        res = R.main_container(R.k8s_workload(run, name))["resources"]
        assert res == {"requests": {"cpu": cpu_r, "memory": mem_r}, "limits": {"cpu": cpu_l, "memory": mem_l}}, name
    for name in ("central-receive", "central-router"):
        w = R.k8s_workload(run, name)
        assert R.pod_spec(w)["topologySpreadConstraints"] == [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": w.inputs["spec"]["selector"]["matchLabels"]},
            }
        ]
    for name in ("central-query", "central-store", "batmobile-agent", "objstore-seaweedfs"):
        pod = R.pod_spec(R.k8s_workload(run, name))
        assert not any(k in pod for k in ("topologySpreadConstraints", "nodeSelector", "tolerations", "affinity", "priorityClassName"))


def test_overrides_reach_the_kubernetes_objects(stacks):
    run = stacks("k8s", K8S_OVERRIDES)

    def res(name):
        return R.main_container(R.k8s_workload(run, name))["resources"]

    assert res("central-receive") == {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    assert res("central-query-frontend")["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert res("central-query-frontend")["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert res("central-compact") == {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "4Gi"}}
    assert res("objstore-seaweedfs")["limits"] == {"cpu": "1", "memory": "3Gi"}
    assert res("batmobile-agent")["requests"] == {"cpu": "50m", "memory": "256Mi"}
    assert res("batcopter-agent")["requests"] == {"cpu": "100m", "memory": "256Mi"}
    for name in ("central-receive", "central-router", "central-query", "central-query-frontend", "central-store", "central-compact"):
        pod = R.pod_spec(R.k8s_workload(run, name))
        assert pod["nodeSelector"] == SCHEDULING["nodeSelector"], name
        assert pod["tolerations"] == SCHEDULING["tolerations"], name
        assert pod["affinity"] == SCHEDULING["affinity"], name
        # Given constraints replace the receivers' default zone spread.
        assert pod["topologySpreadConstraints"] == SCHEDULING["topologySpreadConstraints"], name
        assert pod["priorityClassName"] == "metrics-critical", name
    assert R.pod_spec(R.k8s_workload(run, "batmobile-agent"))["nodeSelector"] == {"edge": "true"}
    assert "nodeSelector" not in R.pod_spec(R.k8s_workload(run, "batcopter-agent"))
    claims = {
        w.inputs["metadata"]["name"]: claim["spec"].get("storageClassName")
        for w in R.k8s_kind(run, "StatefulSet")
        for claim in w.inputs["spec"].get("volumeClaimTemplates") or []
    }
    assert claims == {
        "central-receive": "fast-ssd",
        "central-store": "fast-ssd",
        "central-compact": "fast-ssd",
        "objstore-seaweedfs": "bulk",
        "batmobile-agent": None,  # the target's (the cluster default)
        "batcopter-agent": None,
        # The k8s stack's self-monitoring agent, Ruler and Alertmanager: no
        # class of their own in this config, so the target's.
        "meta-agent": None,
        "alerting-rule": None,
        "alerting-alertmanager": None,
    }
    assert validate_k8s_resources(run.resources) == []


def test_component_storage_class_overrides_the_targets(stacks):
    run = stacks("k8s", {
        "agentstream:kubernetes": {"namespace": "agentstream", "storageClass": "standard"},
        "agentstream:receive": {"storageClass": ""},
    })
    claims = {
        w.inputs["metadata"]["name"]: claim["spec"]["storageClassName"]
        for w in R.k8s_kind(run, "StatefulSet")
        for claim in w.inputs["spec"].get("volumeClaimTemplates") or []
    }
    assert claims["central-receive"] == "" and claims["central-store"] == ""
    assert claims["batmobile-agent"] == "standard" and claims["objstore-seaweedfs"] == "standard"


def test_overrides_reach_the_docker_containers(stacks):
    run = stacks("dev", {
        "agentstream:objectStore": {"engine": "minio", "resources": {"limits": {"cpu": "500m", "memory": "768Mi"}}},
        "agentstream:receive": {"resources": {"receive": {"limits": {"cpu": "3", "memory": "3Gi"}, "requests": {"cpu": "500m"}}}},
        "agentstream:fleets": [{"name": "batmobile", "resources": {"limits": {"memory": "512Mi"}}}, {"name": "batcopter"}],
    })
    receive = R.containers_of(run, "central-receive")[0].inputs
    assert (receive["memory"], receive["cpus"], receive["memoryReservation"], receive["cpuShares"]) == (3072, "3.0", 512, 512)
    minio = R.containers_of(run, "objstore-minio")[0].inputs
    assert (minio["memory"], minio["cpus"], minio["memoryReservation"]) == (768, "0.5", 128)
    agent = R.containers_of(run, "batmobile-agent")[0].inputs
    # The default 256Mi request fits under the 512Mi limit and stays.
    assert (agent["memory"], agent["memorySwap"], agent["memoryReservation"], agent["cpus"]) == (512, 512, 256, "1.0")
    assert R.containers_of(run, "batcopter-agent")[0].inputs["memory"] == 1024


def test_settings_map_camel_case_keys():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
    import settings

    s = settings.parse({
        "target": "kubernetes",
        "receive": {"resources": {"queryFrontend": {"limits": {"memory": "1Gi"}}}, "scheduling": {"priorityClassName": "x"}, "storageClass": "s"},
        "objectStore": {"scheduling": {"topologySpreadConstraints": []}},
        "fleets": [{"name": "f", "scheduling": {"nodeSelector": {"a": "b"}}, "resources": {"requests": {"cpu": "1"}}}],
    })
    assert s["receive"] == {
        "resources": {"query_frontend": {"limits": {"memory": "1Gi"}}},
        "scheduling": {"priority_class_name": "x"},
        "storage_class": "s",
    }
    assert s["object_store"]["scheduling"] == {"topology_spread_constraints": []}
    assert s["fleets"][0]["scheduling"] == {"node_selector": {"a": "b"}}
    with pytest.raises(ValueError, match=r"receive.scheduling.node_selector: unknown key \(did you mean 'nodeSelector'\?\)"):
        settings.parse({"target": "kubernetes", "receive": {"scheduling": {"node_selector": {}}}})


@pytest.mark.parametrize(
    "component,args,field",
    [
        ("ReceiveCluster", {"scheduling": {"tolerations": []}}, "receive.scheduling.tolerations"),
        ("ReceiveCluster", {"storage_class": "fast"}, "receive.storageClass"),
        ("AgentFleet", {"remote_write_url": "http://r:1/x", "scheduling": {"node_selector": {"a": "b"}}}, "fleets[batmobile].scheduling.nodeSelector"),
        ("ObjectStore", {"storage_class": ""}, "objectStore.storageClass"),
    ],
)
def test_python_users_get_the_docker_error_before_any_component(component, args, field):
    import agentstream as a
    from tests.support.programs import run_on

    def program(target):
        getattr(a, component)("batmobile", {**args, "target": target})

    with pytest.raises(ValueError) as e:
        run_on("docker", program)
    assert f"{field}: has no effect on the docker target; allowed: remove it" in str(e.value)
    assert [r.type for r in e.value.recorded if r.type.startswith("agentstream:index:") and r.type != "agentstream:index:DockerTarget"] == []


def test_python_users_size_and_place_on_kubernetes():
    import agentstream as a
    from tests.support.programs import run_on

    def program(target):
        a.AgentFleet("batmobile", {
            "target": target,
            "remote_write_url": "http://r:1/x",
            "resources": {"limits": {"cpu": "2"}},
            "scheduling": {"priority_class_name": "edge", "tolerations": [{"operator": "Exists"}]},
            "storage_class": "local-path",
        })

    run = run_on("kubernetes", program)
    w = R.k8s_workload(run, "batmobile-agent")
    assert R.main_container(w)["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert R.pod_spec(w)["priorityClassName"] == "edge"
    assert R.pod_spec(w)["tolerations"] == [{"operator": "Exists"}]
    assert w.inputs["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "local-path"
    assert validate_k8s_resources(run.resources) == []
