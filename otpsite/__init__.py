"""The project's settings and shared plumbing: the bottom layer, importing nothing of the others."""

from otpsite.celery import app

__all__ = ["app"]
