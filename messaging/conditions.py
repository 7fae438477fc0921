"""One text for each data rule: a condition is written once, as a Q, and used both ways.

Querysets filter with the Q itself (the models' queryset methods: `OneTimeCode.objects.live(now)`,
`CommunicationLog.objects.claimable(...)`), or with it seen through a relation (:func:`through`).
The one-statement writes (messaging/one_statement.py) put the same Q into their SQL as a
:class:`Where`: Django compiles it once into a WHERE fragment with `%s` placeholders, and each run
binds only its values. A rule is changed in one place and both paths follow.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Expression, Model, Q
from django.db.models.sql import Query


class Param(Expression):
    """A named value of a condition compiled once: `%s` in its SQL, bound per run by Where.params()."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return "%s", [self]


class Where:
    """A condition on `model` as a SQL WHERE fragment, columns qualified by the model's table.

    The condition is a rule's own Q, built with Param() where a run's values go, e.g.
    ``Where(OneTimeCode, is_live(Param("now")))``. It is compiled on first use (so at run time,
    with the database's quoting) and kept: a prepared statement gets the same text every run.
    """

    def __init__(self, model: type[Model], condition: Q) -> None:
        self.model = model
        self.condition = condition

    @functools.cached_property
    def _compiled(self) -> tuple[str, tuple[Any, ...]]:
        connection = connections[DEFAULT_DB_ALIAS]
        query = Query(self.model)
        sql, params = query.build_where(self.condition).as_sql(query.get_compiler(connection=connection), connection)
        return sql, tuple(params)

    @property
    def sql(self) -> str:
        return self._compiled[0]

    def params(self, **values: Any) -> list[Any]:
        """The fragment's parameters in order: the rule's constants, and `values` for its Params."""
        return [values[p.name] if isinstance(p, Param) else p for p in self._compiled[1]]


def through(relation: str, condition: Q) -> Q:
    """`condition` on the model reached through `relation`, for a query on the model holding it:
    ``through("one_time_code", is_live(now))`` filters log rows by their code."""
    seen = Q()
    seen.connector, seen.negated = condition.connector, condition.negated
    seen.children = [_through(relation, child) for child in condition.children]
    return seen


def _through(relation: str, child: Any) -> Any:
    if isinstance(child, Q):
        return through(relation, child)
    lookup, value = child
    return (f"{relation}__{lookup}", value)
