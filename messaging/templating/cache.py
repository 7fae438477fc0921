"""The latest template of each (tenant, name, channel, locale), kept in this process between sends.

store.current ran one SELECT per delivery: about a quarter of a delivery's own CPU in the worker's
profile (bench/README.md). Its answers are kept per process and dropped when any template is saved
or deleted, or after 60 s (the mechanism: messaging/generation_cache.py). A cached template is
shared by the process's threads: callers only read it.
"""

from __future__ import annotations

from messaging.generation_cache import MAX_AGE_SECONDS, GenerationCache

__all__ = ["MAX_AGE_SECONDS", "TEMPLATES", "cached", "current_generation", "generation_key", "templates_changed"]

TEMPLATES = GenerationCache("templates")

generation_key = TEMPLATES.generation_key
cached = TEMPLATES.cached
current_generation = TEMPLATES.current_generation
templates_changed = TEMPLATES.changed
