"""Docker containers: not privileged, not on the host network, ports published
only on allowed addresses, a healthcheck and a restart policy.

Each check takes a container's properties, its name and the policy config,
and yields its violations; :func:`_container_policy` makes it a policy over
every ``docker.Container``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Iterator, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .config import DEFAULT_PUBLISH_ADDRESSES, PUBLISH_ADDRESSES_SCHEMA
from .model import DOCKER_CONTAINER, UNKNOWN, as_int, as_list, dig, plain, unknown_during_preview

Check = Callable[[dict, str, Mapping[str, Any]], Iterator[str]]


def _container_policy(
    name: str,
    description: str,
    check: Check,
    level: EnforcementLevel,
    severity: Severity,
    config_schema: Optional[PolicyConfigSchema] = None,
) -> ResourceValidationPolicy:
    """A policy that reports what ``check`` finds in each Docker container."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != DOCKER_CONTAINER:
            return
        props = plain(args.props)
        for message in check(props, props.get("name") or args.name, args.get_config()):
            report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        severity=severity,
        config_schema=config_schema,
    )


def _privileged(props: dict, name: str, config: Mapping[str, Any]) -> Iterator[str]:
    if props.get("privileged") is True:
        yield f"Container {name} runs privileged; drop `privileged` and add only the capabilities it needs."
    adds = [str(x).upper() for x in as_list(dig(props, "capabilities", "adds"))]
    if "ALL" in adds or "CAP_ALL" in adds:
        yield f"Container {name} adds ALL capabilities, which is as good as privileged."


NO_PRIVILEGED = _container_policy(
    "docker-no-privileged",
    "Docker containers are not privileged.",
    _privileged, EnforcementLevel.MANDATORY, Severity.CRITICAL,
)


def _host_network(props: dict, name: str, config: Mapping[str, Any]) -> Iterator[str]:
    if props.get("networkMode") == "host":
        yield f"Container {name} uses networkMode 'host'; attach it to the stack's network instead."
    for net in as_list(props.get("networksAdvanced")):
        if isinstance(net, dict) and net.get("name") == "host":
            yield f"Container {name} joins the 'host' network; attach it to the stack's network instead."


NO_HOST_NETWORK = _container_policy(
    "docker-no-host-network",
    "Docker containers do not use the host network.",
    _host_network, EnforcementLevel.MANDATORY, Severity.HIGH,
)


def _ports(props: dict, name: str, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = [a for a in as_list(config.get("allowedPublishAddresses", DEFAULT_PUBLISH_ADDRESSES)) if isinstance(a, str)]
    for port in as_list(props.get("ports")):
        if not isinstance(port, dict):
            continue
        ip = port.get("ip")
        if ip is UNKNOWN:
            raise unknown_during_preview("ports.ip")
        ip = ip or "0.0.0.0"  # the provider's default
        if ip not in allowed:
            yield (
                f"Container {name} publishes port {as_int(port.get('internal'))} on host address {ip} "
                f"(host port {as_int(port.get('external')) or 'random'}); bind it to one of {allowed} "
                "(agentstream:docker.publishAddress) or allow the address in allowedPublishAddresses."
            )


PORTS_LOCALHOST = _container_policy(
    "docker-ports-localhost",
    "Published Docker ports bind to 127.0.0.1 unless the config allows other addresses.",
    _ports, EnforcementLevel.MANDATORY, Severity.HIGH, PUBLISH_ADDRESSES_SCHEMA,
)


def _health(props: dict, name: str, config: Mapping[str, Any]) -> Iterator[str]:
    if props.get("mustRun") is False:
        return  # one-shot containers (e.g. volume init) neither restart nor report health
    if not props.get("healthcheck"):
        yield f"Container {name} has no healthcheck; `pulumi up` cannot wait for it to be ready."
    if props.get("restart") in (None, "", "no"):
        yield f"Container {name} has no restart policy; use unless-stopped or on-failure."


HEALTHCHECK_AND_RESTART = _container_policy(
    "docker-healthcheck-and-restart",
    "Long-running Docker containers have a healthcheck and a restart policy.",
    _health, EnforcementLevel.ADVISORY, Severity.LOW,
)
