"""objstore-credentials-as-secrets: credentials never in plain text on a command
line, in an environment variable's literal value, or in a ConfigMap.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .model import K8S_CONFIG_MAP, UNKNOWN, as_dict, plain, workload_of

_SECRET_NAME_RE = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_?KEY|API_?KEY|PRIVATE_?KEY|CREDENTIAL|OBJSTORE_?CONFIG)", re.I
)
# A name that points at a file or directory holding the secret is fine.
_REFERENCE_SUFFIX_RE = re.compile(r"(_FILE|_PATH|_DIR|_FILENAME)$", re.I)
_SECRET_ARG_RE = re.compile(
    r"(?i)(secret[_-]?(access[_-]?)?key|access[_-]?key([_-]?id)?|secretkey|accesskey|password|passwd|session[_-]?token|"
    r"auth[_-]?token|api[_-]?key)\s*[:=]\s*['\"]?[^\s'\"]"
)
_CREDENTIAL_TEXT_RE = re.compile(
    r"(?im)^\s*[\"']?(secret_key|access_key|secretKey|accessKey|secret_access_key|aws_secret_access_key|"
    r"session_token|password)[\"']?\s*:\s*[\"']?[^\s\"',}]"
)
_INLINE_OBJSTORE_FLAGS = ("--objstore.config", "--objstore-config", "--tracing.config")


def _secret_like_env(name: str) -> bool:
    return bool(_SECRET_NAME_RE.search(name)) and not _REFERENCE_SUFFIX_RE.search(name)


def credential_text(text: Any) -> bool:
    """True if text carries credentials: an objstore config, S3 identities, a password line."""
    return isinstance(text, str) and bool(_CREDENTIAL_TEXT_RE.search(text))


def validate_credentials_as_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    t = args.resource_type
    props = plain(args.props)
    if t == K8S_CONFIG_MAP:
        for section in ("data", "binaryData"):
            for key, value in as_dict(props.get(section)).items():
                if section == "binaryData" and isinstance(value, str):
                    try:
                        value = base64.b64decode(value).decode("utf-8", "replace")
                    except (ValueError, TypeError):
                        continue
                if credential_text(value):
                    report(
                        f"ConfigMap {args.name} key '{key}' holds object-store credentials in plain text; "
                        "put them in a Secret and mount that instead.",
                        None,
                    )
        return
    w = workload_of(t, args.urn, args.name, props)
    if w is None:
        return
    for c in w.containers:
        where = f"{w.describe()}" + ("" if w.target == "docker" else f" container {c.name}")
        for i, arg in enumerate(c.argv):
            if not isinstance(arg, str):
                continue
            flag = arg.split("=", 1)[0]
            if flag in _INLINE_OBJSTORE_FLAGS and (("=" in arg) or i + 1 < len(c.argv)):
                report(
                    f"{where} passes the whole {flag} on its command line, where `ps` and `docker inspect`/"
                    f"`kubectl get pod` show it; mount it as a secret file and use {flag}-file.",
                    None,
                )
            elif _SECRET_ARG_RE.search(arg) or credential_text(arg):
                report(
                    f"{where} has a credential on its command line (argument {i}: '{flag}...'); "
                    "pass it in a secret-backed file or environment variable.",
                    None,
                )
        for var in c.env:
            if var.source in ("secretKeyRef", "unknown", "resourceFieldRef") or var.source.startswith("fieldRef:"):
                continue
            secret_like = _secret_like_env(var.name) or credential_text(var.value)
            if not secret_like:
                continue
            if var.source == "configMapKeyRef":
                report(f"{where} reads {var.name} from a ConfigMap; credentials belong in a Secret (secretKeyRef).", None)
            elif var.value not in (None, "") and var.value is not UNKNOWN:
                hint = (
                    "upload it as a file (Docker cannot keep env values secret: `docker inspect` shows them)"
                    if w.target == "docker"
                    else "use valueFrom.secretKeyRef"
                )
                report(f"{where} sets {var.name} to a plain-text value; {hint}.", None)


CREDENTIALS_AS_SECRETS = ResourceValidationPolicy(
    name="objstore-credentials-as-secrets",
    description="Object-store credentials appear only as secrets: no plain-text secret-like env values, none on a command line, none in ConfigMaps.",
    validate=validate_credentials_as_secrets,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
)
