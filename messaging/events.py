"""What messaging announces to the layers above it, without knowing them.

`status_changed` is sent after a receipt moved a log row's status (its transaction committed), with
`log_id` and `status` (the new MessageStatus). Layers above connect to it in their AppConfig.ready.
"""

from __future__ import annotations

from django.dispatch import Signal

status_changed = Signal()
