from __future__ import annotations

from django.apps import AppConfig


class OtpConfig(AppConfig):
    name = "otp"
    verbose_name = "One-time codes"

    def ready(self) -> None:
        # The tasks register with Celery on import; a failure receipt of a code asks otp for the resend.
        from messaging import resend_handlers
        from otp import tasks
        from otp.models import OTP_KIND

        resend_handlers.register(OTP_KIND, tasks.enqueue_resend)
