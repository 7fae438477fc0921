"""The API's JSON parser: a small body cap (413) and no 500 on hostile JSON (400).

DRF's JSONParser reads the whole stream, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never applies
to it. This parser reads at most API_MAX_BODY_BYTES + 1 bytes, refuses a larger body (or a larger
Content-Length) with 413, and answers JSON nested too deeply for the decoder with 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    # The setting that holds this parser's cap, in bytes.
    limit_setting = "API_MAX_BODY_BYTES"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = int(getattr(settings, self.limit_setting))
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError as err:
            raise ParseError("Invalid Content-Length.") from err
        if declared > limit:
            raise RequestTooLarge()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError as err:
            raise ParseError("JSON parse error - nested too deeply.") from err
        except ValueError as err:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {err}") from err


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
