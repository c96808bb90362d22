"""The package's public API: what `import agentstream` offers other stacks."""

from __future__ import annotations

import typing

import agentstream


def test_every_exported_name_exists():
    missing = [n for n in agentstream.__all__ if not hasattr(agentstream, n)]
    assert missing == []


def test_args_are_typed_dicts_with_annotated_keys():
    # TypedDicts, so component_provider_host can serve them to other languages.
    for name in agentstream.__all__:
        obj = getattr(agentstream, name)
        if name.endswith(("Args", "Limits", "Auth")):
            assert typing.is_typeddict(obj), name
            assert obj.__annotations__, f"{name} declares no keys"
