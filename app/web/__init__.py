"""The browser app at ``/``: static HTML, CSS and ES modules, served by this server (no CDN, no build)."""
