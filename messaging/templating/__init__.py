"""Message templates: per tenant, channel and locale (falling back to `en`), versioned, data-only placeholders.

A placeholder is ``((name))``. Rendering substitutes values and nothing else: no template code
runs, a value's own text is never read for placeholders, and values are HTML-escaped in HTML parts.
"""
