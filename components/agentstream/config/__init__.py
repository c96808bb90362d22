"""Pure renderers: settings and strings in; config files and command lines out.

No Pulumi resources. Both targets use these same functions, so Docker and
Kubernetes run byte-identical configuration and command lines.
"""

from .prometheus import agent_args, render_agent_config
from .thanos import (
    compact_args,
    query_args,
    query_frontend_args,
    receive_args,
    render_endpoint_sd,
    render_filesystem_objstore,
    render_frontend_cache,
    render_hashring,
    render_receive_limits,
    render_s3_objstore,
    render_seaweedfs_identities,
    router_args,
    store_args,
)

__all__ = [
    "agent_args",
    "compact_args",
    "query_args",
    "query_frontend_args",
    "receive_args",
    "render_agent_config",
    "render_endpoint_sd",
    "render_filesystem_objstore",
    "render_frontend_cache",
    "render_hashring",
    "render_receive_limits",
    "render_s3_objstore",
    "render_seaweedfs_identities",
    "router_args",
    "store_args",
]
