"""What otp announces to the layers above it, without knowing them.

`code_verified` is sent once a verify succeeded and committed, with `tenant_id`, `channel`,
`recipient` and `purpose` (never the code). Layers above connect to it in their AppConfig.ready.
"""

from __future__ import annotations

from django.dispatch import Signal

code_verified = Signal()
