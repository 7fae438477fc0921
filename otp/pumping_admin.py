"""The admin page of the SMS pumping guard: which prefixes are blocked now, and a button to lift one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from otp import pumping
from otpsite.logs import log_event

logger = logging.getLogger(__name__)
URL_NAME = "otp_pumping_blocks"


def blocks_view(request: HttpRequest) -> HttpResponse:
    """GET lists the blocks; POST (source, prefix, country) lifts one. Staff with change rights only."""
    if not request.user.has_perm("otp.change_onetimecode") and not request.user.is_superuser:  # type: ignore[union-attr]
        return HttpResponse(status=403)
    if request.method == "POST":
        block = {name: request.POST.get(name, "") for name in ("source", "prefix", "country")}
        pumping.lift_block(**block)
        log_event(logger, "otp.pumping.block_lifted", level=logging.WARNING, user=str(request.user), **block)
        messages.success(request, f"Lifted the block on {block['prefix']} ({block['source']}).")
        return HttpResponseRedirect(reverse(f"admin:{URL_NAME}"))
    rows = [
        {**block.__dict__, "until": datetime.fromtimestamp(block.until_ms / 1000, UTC)}
        for block in pumping.active_blocks()
    ]
    context = {**admin.site.each_context(request), "title": "SMS pumping blocks", "blocks": rows}
    return TemplateResponse(request, "admin/otp/pumping_blocks.html", context)
