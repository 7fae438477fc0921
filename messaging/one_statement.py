"""Several writes as one SQL statement on PostgreSQL, so that they cost one round trip and one commit.

A single statement is atomic by itself: in autocommit it needs no BEGIN or COMMIT, which are two
more round trips to the database, each a wait on this process's critical path. Data-modifying CTEs
(`WITH x AS (INSERT ...) UPDATE ...`) put several writes into one statement. They share one
snapshot: no part sees another's rows, so callers only combine writes that do not read each other.

Such a statement is long, and PostgreSQL spends longer planning it than running it (the send's:
0.14 ms to plan, 0.13 ms to run). So callers run it through :func:`cursor`, which binds parameters
on the server: psycopg then prepares the statement on its connection, and every later run is only
bound and executed (see DATABASE_PREPARED_STATEMENTS in otpsite/settings.py).

A condition that a queryset also uses (a code is live, a log row is claimable) goes into such a
statement as a messaging.conditions.Where, compiled from the rule's one definition.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import psycopg
from django.core.exceptions import ObjectDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model


def cursor() -> CursorWrapper:
    """A Django cursor (queries counted, errors translated) that binds parameters on the server.

    Django's own cursors bind on the client, sending each statement as text with its values in
    it, so PostgreSQL has to plan it anew every time. Bound on the server, a statement is prepared
    by psycopg (the connection's prepare_threshold, set in settings) and planned once per connection.
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw: Any = _ServerBindingCursor(connection.connection)  # what Django's create_cursor() would return
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


class _ServerBindingCursor(psycopg.Cursor[Any]):
    """psycopg's server-side binding cursor, keeping its last statement where Django's query log
    (DEBUG, CaptureQueriesContext) reads it, as psycopg's client-side cursor does itself.

    The log shows the statement with its placeholders, not its values.
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        result = super().execute(query, params, **kwargs)
        self._query = _Statement(query.encode() if isinstance(query, str) else query)  # type: ignore[assignment]
        return result


class _Statement(NamedTuple):
    query: bytes


def insert_parts(obj: Model, *, skip: frozenset[str] = frozenset()) -> tuple[str, str, list[Any]]:
    """(quoted columns, placeholders, database values) to INSERT the unsaved `obj`.

    Leaves out its auto-incremented primary key and the fields named in `skip`; fills
    auto_now_add and similar fields on `obj` itself, as save() would.
    """
    fields, columns, marks = _insert_columns(type(obj), skip)
    db = connections[DEFAULT_DB_ALIAS]
    return columns, marks, [f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields]


@functools.cache
def _insert_columns(model: type[Model], skip: frozenset[str]) -> tuple[list[Field[Any, Any]], str, str]:
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field and f.name not in skip]
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return fields, ", ".join(quote(str(f.column)) for f in fields), ", ".join(["%s"] * len(fields))


def insert_and_update(new: Model, row: Model, update_fields: list[str]) -> None:
    """INSERT `new` and UPDATE `update_fields` of the saved `row`, in one commit.

    Within a surrounding transaction.atomic() both simply join it.
    """
    columns, marks, values = insert_parts(new)
    fields = [field for name in update_fields if isinstance(field := row._meta.get_field(name), Field)]
    assignments = ", ".join(f"{connection.ops.quote_name(str(f.column))} = %s" for f in fields)
    new_pk = connection.ops.quote_name(str(new._meta.pk.column))
    sql = (
        f"WITH inserted AS (INSERT INTO {new._meta.db_table} ({columns}) VALUES ({marks}) RETURNING {new_pk})"  # noqa: S608 (names from the models, values as parameters)
        f" UPDATE {row._meta.db_table} SET {assignments} WHERE {row._meta.pk.column} = %s"
        f" RETURNING (SELECT {new_pk} FROM inserted)"
    )
    params = [*values, *(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields), row.pk]
    with cursor() as prepared:
        prepared.execute(sql, params)
        returned = prepared.fetchone()
    if returned is None:
        raise ObjectDoesNotExist(f"{row._meta.label} {row.pk} is gone; nothing was written")
    new.pk = returned[0]
    new._state.adding = False
