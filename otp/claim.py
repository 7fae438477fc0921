"""A worker's claim on one code's delivery: read the code, claim its log row, store the new hash.

On PostgreSQL this is one statement, so one round trip and one commit: a CTE reads the code, a
second claims its log row (queued, or sending under a lease that has run out because its worker
died), a third stores the new code's hash only if the claim succeeded and the code is still live
(not used, replaced or expired). The rows it returns are as they were before the statement; the
caller sets what the claim changed. Elsewhere (`make run` on SQLite) the same steps run through the
ORM: one SELECT, then both UPDATEs in one transaction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Model, Q

from messaging import one_statement
from messaging.models import CommunicationLog, MessageStatus
from otp.models import OneTimeCode


@dataclass(frozen=True)
class Claim:
    otp: OneTimeCode
    log: CommunicationLog
    claimed: bool  # this worker now holds the log row
    live: bool  # ... and the code's hash is the new one


def claim(otp_id: str, code_hash: str, *, now: datetime, lease_seconds: float) -> Claim | None:
    """Claim the delivery of `otp_id` with `code_hash` as its code. None: no such code or no log."""
    lease_start = now - timedelta(seconds=lease_seconds)
    if not one_statement.enabled():
        return _claim_through_the_orm(otp_id, code_hash, now=now, lease_start=lease_start)
    sql = _claim_sql()
    sending, queued = MessageStatus.SENDING.value, MessageStatus.QUEUED.value
    params: list[Any] = [otp_id, sending, now, queued, sending, lease_start, code_hash, now]
    with one_statement.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(OneTimeCode._meta.concrete_fields)
    otp, log = _instance(OneTimeCode, row[:split]), _instance(CommunicationLog, row[split:-2])
    otp.log = log
    return Claim(otp=otp, log=log, claimed=row[-2], live=row[-1])


def _claim_through_the_orm(otp_id: str, code_hash: str, *, now: datetime, lease_start: datetime) -> Claim | None:
    otp = OneTimeCode.objects.select_related("log").filter(pk=otp_id).first()
    if otp is None or otp.log is None:
        return None
    with transaction.atomic():
        claimed = (
            CommunicationLog.objects.filter(pk=otp.log.pk)
            .filter(Q(status=MessageStatus.QUEUED) | Q(status=MessageStatus.SENDING, claimed_at__lt=lease_start))
            .update(status=MessageStatus.SENDING, claimed_at=now)
        )
        live = bool(claimed) and bool(
            OneTimeCode.objects.filter(
                pk=otp.pk, used_at__isnull=True, invalidated_at__isnull=True, expires_at__gt=now
            ).update(code_hash=code_hash)
        )
    return Claim(otp=otp, log=otp.log, claimed=bool(claimed), live=live)


@functools.cache
def _claim_sql() -> str:
    log_table, code_table = CommunicationLog._meta.db_table, OneTimeCode._meta.db_table
    return (
        f"WITH code AS (SELECT * FROM {code_table} WHERE id = %s),"  # noqa: S608 (names from the models, values as parameters)
        f" claimed AS (UPDATE {log_table} SET status = %s, claimed_at = %s"
        " WHERE id = (SELECT log_id FROM code) AND (status = %s OR (status = %s AND claimed_at < %s))"
        " RETURNING id),"
        f" stored AS (UPDATE {code_table} SET code_hash = %s WHERE id = (SELECT id FROM code)"
        " AND EXISTS (SELECT 1 FROM claimed) AND used_at IS NULL AND invalidated_at IS NULL AND expires_at > %s"
        " RETURNING id)"
        f" SELECT {_columns(OneTimeCode, 'c')}, {_columns(CommunicationLog, 'l')},"
        " EXISTS (SELECT 1 FROM claimed), EXISTS (SELECT 1 FROM stored)"
        f" FROM code c JOIN {log_table} l ON l.id = c.log_id"
    )


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(str(f.column))}" for f in model._meta.concrete_fields)


def _instance(model: type[Model], values: tuple[Any, ...]) -> Any:
    """A model instance from its concrete columns' raw values, converted as a queryset would."""
    db = connections[DEFAULT_DB_ALIAS]
    converted = list(values)
    for i, column, converters in _converters(model):
        for converter in converters:
            converted[i] = converter(converted[i], column, db)
    return model.from_db(DEFAULT_DB_ALIAS, _attnames(model), converted)


@functools.cache
def _converters(model: type[Model]) -> list[tuple[int, Any, list[Any]]]:
    """(position, column, converters) of each of `model`'s concrete fields that has converters."""
    db = connections[DEFAULT_DB_ALIAS]
    found = []
    for i, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = [*db.ops.get_db_converters(column), *field.get_db_converters(db)]
        if converters:
            found.append((i, column, converters))
    return found


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]
