"""The image-pinning rule: what "pinned" means, in one place.

:func:`image_problem` judges an image reference for the component args
(``validation.check_image``), the stack config (``infra/settings.py``) and the
policy pack's ``images-pinned`` policy. The pack runs in its own venv, without
this package, and imports this very file through the symlink
``policy/agentstream_policies/pinning.py``. So this module must stay pure and
standalone: the standard library only, no relative imports, no Pulumi.
"""

from __future__ import annotations

import re
from typing import Optional

# Docker's reference grammar (github.com/distribution/reference): an optional
# registry host[:port], lower-case path components, an optional ":tag", an
# optional "@digest".
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME_AND_TAG_RE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::(?P<tag>[\w][\w.-]{{0,127}}))?$"
)
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")

# The forms :func:`image_problem` accepts, for "allowed: ..." in error messages.
PINNED_FORMS = "repository:tag (not latest) with a version in the tag, or repository@sha256:<digest>"


def image_problem(ref: object) -> Optional[str]:
    """Why the image reference ``ref`` is not pinned, as a sentence; None when it is.

    Pinned: a digest (``repo@sha256:<64 hex>``, with or without a tag), an
    image id (``sha256:<64 hex>``: what a Docker container reports once its
    image is pulled), or a tag with a version in it (at least one digit).
    Not pinned: no tag (Docker then pulls ``latest``), ``latest``, a floating
    tag such as ``main`` or ``stable``, or a string that is not an image
    reference at all.
    """
    if not isinstance(ref, str) or not ref.strip():
        return f"image {ref!r} is empty; pin it to a version tag or a digest"
    if _DIGEST_RE.match(ref):
        return None  # an image id
    name, at, digest = ref.partition("@")
    if at and not _DIGEST_RE.match(digest):
        return f"image '{ref}' has a malformed digest; use @sha256:<64 hex digits>"
    parsed = _NAME_AND_TAG_RE.match(name)
    if parsed is None:
        return (
            f"image '{ref}' is not a valid image reference; write it as [registry[:port]/]repository:tag "
            "or repository@sha256:<digest>, the repository in lower case"
        )
    if at:
        return None
    tag = parsed.group("tag")
    if tag is None:
        return f"image '{ref}' has no tag (Docker pulls 'latest'); pin it to a version tag or a digest"
    if tag.lower() == "latest":
        return f"image '{ref}' uses the 'latest' tag; pin it to a version tag or a digest"
    if not any(ch.isdigit() for ch in tag):
        return f"image '{ref}' uses the floating tag '{tag}'; pin it to a version tag (e.g. v1.2.3) or a digest"
    return None
