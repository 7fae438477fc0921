"""A worker's claim on one code's delivery: read the code, claim its log row, store the new hash.

One statement, so one round trip and one commit: a CTE reads the code, a second claims its log row
if it is claimable (messaging.models.is_claimable: queued, or sending under a lease that has run
out because its worker died), a third stores the new code's hash only if the claim succeeded and
the code is live (otp.models.is_live: not used, replaced or expired). The rows it returns are as
they were before the statement; the caller sets what the claim changed.

The claim names its owner (otpsite/liveness.py). When the row is `sending` under an owner whose
liveness key is gone, the same statement is run once more with the condition that takes over that
very claim (messaging.models.is_taken_over), so a redelivered task need not wait out the lease;
of several takers exactly one wins.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

from messaging import one_statement
from messaging.conditions import Param, Where
from messaging.models import CommunicationLog, MessageStatus, is_claimable, is_taken_over, lease_start
from otp.models import OneTimeCode, is_live
from otpsite import liveness

CLAIMABLE = Where(CommunicationLog, is_claimable(Param("lease_start")))
TAKEN_OVER = Where(CommunicationLog, is_taken_over(Param("dead_owner"), Param("claimed_at")))
LIVE = Where(OneTimeCode, is_live(Param("now")))


@dataclass(frozen=True)
class Claim:
    otp: OneTimeCode
    log: CommunicationLog
    claimed: bool  # this worker now holds the log row
    live: bool  # ... and the code's hash is the new one


def claim(otp_id: str, code_hash: str, *, now: datetime, lease_seconds: float) -> Claim | None:
    """Claim the delivery of `otp_id` with `code_hash` as its code. None: no such code or no log."""
    me = liveness.owner()
    taken = _run(CLAIMABLE, otp_id, code_hash, now=now, owner=me, lease_start=lease_start(now, lease_seconds))
    if taken is None or taken.claimed or taken.log.status != MessageStatus.SENDING:
        return taken
    dead, claimed_at = taken.log.claimed_by, taken.log.claimed_at
    if liveness.recheck_in(dead) != 0.0:
        return taken
    return _run(TAKEN_OVER, otp_id, code_hash, now=now, owner=me, dead_owner=dead, claimed_at=claimed_at)


def _run(condition: Where, otp_id: str, code_hash: str, *, now: datetime, owner: str, **values: Any) -> Claim | None:
    """The statement with `condition` on the log row (bound with `values`), claimed for `owner`."""
    params: list[Any] = [
        otp_id,
        MessageStatus.SENDING.value,
        now,
        owner,
        *condition.params(**values),
        code_hash,
        *LIVE.params(now=now),
    ]
    sql = _claim_sql(condition)
    with one_statement.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(OneTimeCode._meta.concrete_fields)
    otp, log = _instance(OneTimeCode, row[:split]), _instance(CommunicationLog, row[split:-2])
    otp.log = log
    return Claim(otp=otp, log=log, claimed=row[-2], live=row[-1])


@functools.cache
def _claim_sql(condition: Where) -> str:
    log_table, code_table = CommunicationLog._meta.db_table, OneTimeCode._meta.db_table
    return (
        f"WITH code AS (SELECT * FROM {code_table} WHERE id = %s),"  # noqa: S608 (names from the models, values as parameters)
        f" claimed AS (UPDATE {log_table} SET status = %s, claimed_at = %s, claimed_by = %s"
        f" WHERE id = (SELECT log_id FROM code) AND {condition.sql}"
        " RETURNING id),"
        f" stored AS (UPDATE {code_table} SET code_hash = %s WHERE id = (SELECT id FROM code)"
        f" AND EXISTS (SELECT 1 FROM claimed) AND {LIVE.sql}"
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
