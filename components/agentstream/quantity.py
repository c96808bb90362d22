"""Kubernetes resource quantities ("512Mi", "1Gi", "250m", "1.5") as numbers,
for targets that need plain units (Docker takes MiB and CPU counts). The
values were already checked against Kubernetes' own syntax
(``validation.QUANTITY_RE``)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

_SUFFIX: dict[str, int | Decimal] = {
    "": 1, "m": Decimal("0.001"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")


def quantity(value: str) -> Decimal:
    """The quantity's value in base units (bytes, or CPUs)."""
    m = _RE.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    number, suffix = Decimal(m.group(1)), m.group(2) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * Decimal(_SUFFIX[suffix])


def quantity_mib(value: str) -> int:
    """Bytes as whole MiB, rounded up (a limit must not shrink)."""
    return max(1, math.ceil(quantity(value) / 2**20))


def quantity_millicores(value: str) -> int:
    """CPUs as millicores, rounded up."""
    return max(1, math.ceil(quantity(value) * 1000))
