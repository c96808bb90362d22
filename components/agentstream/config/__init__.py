"""Pure config renderers: strings in, strings out, no Pulumi resources.

Both targets use these same functions, so Docker and Kubernetes run
byte-identical configuration.
"""

from .prometheus import render_agent_config
from .thanos import (
    render_endpoint_sd,
    render_filesystem_objstore,
    render_hashring,
    render_receive_limits,
    render_s3_objstore,
    render_seaweedfs_identities,
)

__all__ = [
    "render_agent_config",
    "render_endpoint_sd",
    "render_filesystem_objstore",
    "render_hashring",
    "render_receive_limits",
    "render_s3_objstore",
    "render_seaweedfs_identities",
]
