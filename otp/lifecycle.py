"""Issuing and verifying codes in the database: issuing in one statement, verifying under a row lock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.views.decorators.debug import sensitive_variables

from messaging import one_statement
from messaging.conditions import Param, Where
from messaging.models import CommunicationLog, MessageStatus
from messaging.records import mark_failed
from otp import events
from otp.codes import code_matches
from otp.models import OneTimeCode, OneTimeCodeQuerySet, is_unspent


class DeliveryNotQueued(Exception):
    """The rows were committed but the broker refused the task; the log is marked failed."""


@dataclass(frozen=True)
class CodeRequest:
    tenant_id: str
    recipient: str
    channel: str
    purpose: str
    # The locale its message is written in (templates fall back to `en`); "" is the default.
    locale: str = ""
    # Asked for with a test key: delivered to the sink (messaging.providers.sink.sender), never to a provider.
    test: bool = False


def issue_code(request: CodeRequest, *, now: datetime, enqueue: Callable[[str], None]) -> OneTimeCode:
    """Replace any live code for the same (tenant, recipient, purpose) with a new queued one.

    Invalidating the earlier codes and writing the log and the new code happen together or not at
    all, so a resend never leaves two codes that verify. `enqueue(otp_id)` runs only after that
    commits (at once in autocommit, else when the caller's transaction commits), so a rolled-back
    request enqueues nothing. Raises DeliveryNotQueued if enqueue fails; the log then says so.
    """
    log, otp = _new_rows(request, now)
    _write_in_one_statement(log, otp, request, now)
    transaction.on_commit(lambda: _enqueue_or_fail(otp, log, enqueue))
    return otp


def _new_rows(request: CodeRequest, now: datetime) -> tuple[CommunicationLog, OneTimeCode]:
    log = CommunicationLog(
        recipient=request.recipient,
        channel=request.channel,
        purpose=request.purpose,
        status=MessageStatus.QUEUED,
        metadata={"tenant_id": request.tenant_id, "kind": "otp", **_optional_metadata(request)},
        tenant_id=request.tenant_id,
    )
    otp = OneTimeCode(
        tenant_id=request.tenant_id,
        recipient=request.recipient,
        channel=request.channel,
        purpose=request.purpose,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS),
    )
    return log, otp


def _optional_metadata(request: CodeRequest) -> dict[str, object]:
    return {**({"locale": request.locale} if request.locale else {}), **({"test": True} if request.test else {})}


def _same_request(tenant_id: object, recipient: object, purpose: object) -> Q:
    return Q(tenant_id=tenant_id, recipient=recipient, purpose=purpose)


# The codes a new one replaces: the unspent ones of the same (tenant, recipient, purpose).
REPLACED = Where(OneTimeCode, _same_request(Param("tenant_id"), Param("recipient"), Param("purpose")) & is_unspent())


def _write_in_one_statement(log: CommunicationLog, otp: OneTimeCode, request: CodeRequest, now: datetime) -> None:
    """Invalidate the codes it replaces, insert the log row, insert the code: one statement with
    data-modifying CTEs, so one round trip.

    A single statement is atomic on its own, so in autocommit it needs no BEGIN or COMMIT. Its
    CTEs share one snapshot: the UPDATE cannot see (and so never invalidates) the code inserted
    beside it, and the code's log_id comes from the log row inserted in the same statement.
    """
    log_table, code_table = CommunicationLog._meta.db_table, OneTimeCode._meta.db_table
    log_columns, log_marks, log_values = one_statement.insert_parts(log)
    code_columns, code_marks, code_values = one_statement.insert_parts(otp, skip=frozenset({"log"}))
    sql = (
        f"WITH invalidated AS (UPDATE {code_table} SET invalidated_at = %s WHERE {REPLACED.sql}),"  # noqa: S608 (names from the models, values as parameters)
        f" new_log AS (INSERT INTO {log_table} ({log_columns}) VALUES ({log_marks}) RETURNING id)"
        f" INSERT INTO {code_table} ({code_columns}, log_id) SELECT {code_marks}, id FROM new_log"
        " RETURNING log_id"
    )
    replaced = REPLACED.params(tenant_id=request.tenant_id, recipient=request.recipient, purpose=request.purpose)
    params = [now, *replaced, *log_values, *code_values]
    with one_statement.cursor() as cursor:
        cursor.execute(sql, params)
        (log.pk,) = cursor.fetchone()
    log._state.adding = otp._state.adding = False
    otp.log = log


def _enqueue_or_fail(otp: OneTimeCode, log: CommunicationLog, enqueue: Callable[[str], None]) -> None:
    try:
        enqueue(str(otp.pk))
    except Exception as err:
        mark_failed(log, f"could not enqueue delivery: {type(err).__name__}")
        raise DeliveryNotQueued(str(type(err).__name__)) from err


@sensitive_variables("code")
def verify_code(request: CodeRequest, code: str, *, now: datetime) -> bool:
    """True exactly once for the latest live code of (tenant, recipient, purpose) if `code` matches.

    A wrong guess counts against the code; at OTP_MAX_ATTEMPTS it can no longer verify.
    """
    with transaction.atomic():
        otp = unspent_codes(request).select_for_update().order_by("-created_at").first()
        if otp is None or otp.expires_at <= now or otp.attempts >= settings.OTP_MAX_ATTEMPTS:
            return False
        # Either the first code or the one a receipt-driven resend carried; one shared counter.
        first = code_matches(code, otp_id=str(otp.pk), code_hash=otp.code_hash)
        resent = code_matches(code, otp_id=resend_hash_id(otp), code_hash=otp.resend_code_hash)
        if first or resent:
            OneTimeCode.objects.filter(pk=otp.pk).update(used_at=now)
            transaction.on_commit(lambda: events.code_verified.send(sender=CodeRequest, **asdict(request)))
            return True
        OneTimeCode.objects.filter(pk=otp.pk).update(attempts=F("attempts") + 1)
        return False


def resend_hash_id(otp: OneTimeCode) -> str:
    """What the resent code's HMAC is bound to, so it never shares a hash with the first code."""
    return f"{otp.pk}:resend"


def has_live_code(request: CodeRequest, *, now: datetime) -> bool:
    """Whether a code that could still verify exists: only guesses at one count towards a lockout."""
    latest = unspent_codes(request).order_by("-created_at").first()
    return latest is not None and latest.expires_at > now and latest.attempts < settings.OTP_MAX_ATTEMPTS


def unspent_codes(request: CodeRequest) -> OneTimeCodeQuerySet:
    """The request's unspent codes: the latest is the one that verifies, while it has not expired."""
    return OneTimeCode.objects.filter(_same_request(request.tenant_id, request.recipient, request.purpose)).unspent()
