"""The web process's composition root: the root URLconf (web.urls)."""
