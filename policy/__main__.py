"""Entry point of the agentstream policy pack.

The Pulumi CLI starts it (``python -m pulumi.policy <engine> policy/``) when
you run ``pulumi preview --policy-pack policy/``. Constructing ``PolicyPack``
starts the analyzer's gRPC server and blocks, so nothing else belongs here:
the policies live in the ``agentstream_policies`` package next to this file
(this directory is put on ``sys.path``, whatever the working directory).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pulumi_policy import PolicyPack  # noqa: E402

from agentstream_policies import pack_kwargs  # noqa: E402

PolicyPack(**pack_kwargs())
