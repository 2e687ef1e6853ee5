"""Where the web app is served; the access middleware reads these to keep them public."""

from __future__ import annotations

#: The page itself.
PAGE_PATH = "/"
#: Its scripts, styles and icon.
STATIC_PREFIX = "/ui/static"
#: The one setting the page reads before its first API call (auth on or off, limits).
CONFIG_PATH = "/ui/config"
#: The documents API the page uploads to (served by another part of the app when present).
DOCUMENTS_PATH = "/documents"
