"""Several writes as one SQL statement on PostgreSQL, so that they cost one round trip and one commit.

A single statement is atomic by itself: in autocommit it needs no BEGIN or COMMIT, which are two
more round trips to the database, each a wait on this process's critical path. Data-modifying CTEs
(`WITH x AS (INSERT ...) UPDATE ...`) put several writes into one statement. They share one
snapshot: no part sees another's rows, so callers only combine writes that do not read each other.

SQLite (`make run`'s default) has no data-modifying CTEs: there the same writes run in one
transaction, through the ORM.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction
from django.db.models import Field, Model


def enabled() -> bool:
    """Whether the database takes data-modifying CTEs (PostgreSQL)."""
    return connection.vendor == "postgresql"


def insert_parts(obj: Model, *, skip: set[str] = frozenset()) -> tuple[str, str, list[Any]]:  # type: ignore[assignment]
    """(quoted columns, placeholders, database values) to INSERT the unsaved `obj`.

    Leaves out its auto-incremented primary key and the fields named in `skip`; fills
    auto_now_add and similar fields on `obj` itself, as save() would.
    """
    fields = [f for f in obj._meta.concrete_fields if f is not obj._meta.auto_field and f.name not in skip]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    values = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    return columns, ", ".join(["%s"] * len(values)), values


def insert_and_update(new: Model, row: Model, update_fields: list[str]) -> None:
    """INSERT `new` and UPDATE `update_fields` of the saved `row`, in one commit.

    Within a surrounding transaction.atomic() both simply join it.
    """
    if not enabled():
        with transaction.atomic():
            new.save(force_insert=True)
            row.save(update_fields=update_fields)
        return
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
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchone()
    if returned is None:
        raise ObjectDoesNotExist(f"{row._meta.label} {row.pk} is gone; nothing was written")
    new.pk = returned[0]
    new._state.adding = False
