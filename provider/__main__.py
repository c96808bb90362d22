"""Serves the agentstream components to other Pulumi languages.

The engine runs this directory as a provider plugin (PulumiPlugin.yaml); the
schema is inferred from the classes in ``agentstream.provider``, which also
explains how they map the Python API (dependencies as resource references,
one ``Target`` for both targets).
"""

from pulumi.provider.experimental import component_provider_host

from agentstream import provider

if __name__ == "__main__":
    # Resource references to the components (a fleet's `receive`, ...) resolve
    # to the live instances this process built.
    provider.register_references()
    component_provider_host(name=provider.PACKAGE, version=provider.VERSION, components=provider.COMPONENTS)
