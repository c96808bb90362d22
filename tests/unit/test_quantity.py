"""Kubernetes quantities as the plain units Docker takes."""

import pytest

from agentstream.quantity import quantity, quantity_mib, quantity_millicores


@pytest.mark.parametrize("value,expected", [
    ("512Mi", 512), ("1Gi", 1024), ("1.5Gi", 1536), ("1G", 954), ("1e9", 954), ("100Ki", 1), ("2Ti", 2 * 1024 * 1024),
])
def test_memory_in_mib_rounded_up(value, expected):
    assert quantity_mib(value) == expected


@pytest.mark.parametrize("value,expected", [("100m", 100), ("1", 1000), ("1.5", 1500), ("0.25", 250), ("2500m", 2500), ("1k", 1_000_000)])
def test_cpu_in_millicores(value, expected):
    assert quantity_millicores(value) == expected


@pytest.mark.parametrize("value", ["1 Gi", "Gi", "1GB", "-1Gi", "", "1.2.3"])
def test_rejects_what_is_not_a_quantity(value):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity(value)
