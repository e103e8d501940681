"""ORM queries whose SQL is built once per process (``CompiledQuery``)."""

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, models

# An id no row has: the value a query is compiled with, replaced by the real one at each run.
_PLACEHOLDER = -917_364_251


class CompiledQuery:
    """A QuerySet that a page runs on every view with only an id changing, built into SQL once.

    Django builds a query's SQL from its QuerySet at every evaluation: 0.3 to 0.7 ms of CPU for
    the small lists of the dossier page, against 0.05 ms to run them (docs/performance.md).
    ``build(value)`` returns the QuerySet for one value. It is called once per database with a
    placeholder id; its SQL is kept, and each call runs it with the real value through
    ``raw()``: model instances in the QuerySet's order, annotations as attributes, each field's
    value converted as the ORM converts it. ``raw()`` carries no ``select_related`` nor
    ``prefetch_related``: annotate the related columns the page needs instead (refused here,
    rather than silently costing one query per row).
    """

    def __init__(self, build: Callable[[object], models.QuerySet]):
        self._build = build
        self._compiled: dict[str, tuple[type[models.Model], str, tuple, list[int]]] = {}

    def _compile(self, using: str):
        queryset = self._build(_PLACEHOLDER)
        if queryset.query.select_related or queryset._prefetch_related_lookups:
            raise ValueError("A CompiledQuery cannot select or prefetch related rows.")
        sql, params = queryset.query.get_compiler(using).as_sql()
        slots = [index for index, param in enumerate(params) if param == _PLACEHOLDER]
        if not slots:
            raise ValueError("A CompiledQuery must use its value as a query parameter.")
        self._compiled[using] = (queryset.model, sql, tuple(params), slots)
        return self._compiled[using]

    def __call__(self, value, *, using: str = DEFAULT_DB_ALIAS) -> list[models.Model]:
        model, sql, params, slots = self._compiled.get(using) or self._compile(using)
        values = list(params)
        for slot in slots:
            values[slot] = value
        return list(model._default_manager.db_manager(using).raw(sql, values))


def select_columns(model: type[models.Model], alias: str, connection) -> list[str]:
    """``alias."column"`` for each of the model's concrete fields, in their order: the part of
    a hand-written SELECT that ``instance_from_row`` reads back."""
    qn = connection.ops.quote_name
    return [f"{alias}.{qn(field.column)}" for field in model._meta.concrete_fields]


def instance_from_row(model: type[models.Model], values, *, using: str, connection):
    """A model instance from its concrete fields' values (as ``select_columns`` lists them),
    each converted as the ORM converts it (the field's ``from_db_value``), built by
    ``Model.from_db`` as the ORM builds it."""
    fields = model._meta.concrete_fields
    converted = [
        field.from_db_value(value, None, connection)
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(using, [field.attname for field in fields], converted)
