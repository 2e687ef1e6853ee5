"""Turn a client's file name into one that is safe to store and to cite, or refuse it.

The name a client sends is untrusted: it may carry a path (``../../etc/x.md``, ``C:\\docs\\x.md``,
what old browsers sent), control characters, or be absurdly long. Only its last path component is
kept (as browsers do), so a path can never choose where a file lands; what cannot be made safe
(an empty name, ``..``, a hidden name, control characters, too long) is refused with the reason.
"""

from __future__ import annotations

import unicodedata

#: Longest stored name in UTF-8 bytes (file systems allow 255; room is left for temp suffixes).
MAX_NAME_BYTES = 200


class UnsafeName(ValueError):
    """The file name cannot be made safe; the message says why."""


def safe_upload_name(raw: str | None) -> str:
    """The base name of ``raw``, checked; UnsafeName when nothing safe remains."""
    if not raw:
        raise UnsafeName("every file needs a name (the multipart filename)")
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise UnsafeName(f"file name {raw!r} contains control characters")
    if name in ("", ".", ".."):
        raise UnsafeName(f"file name {raw!r} has no usable base name")
    if name.startswith("."):
        raise UnsafeName(f"file name {name!r} is hidden (starts with '.'); rename it")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UnsafeName(f"file name is longer than {MAX_NAME_BYTES} bytes; shorten it")
    return name
