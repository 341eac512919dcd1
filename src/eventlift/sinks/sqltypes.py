"""Column types and values for result tables in SQL databases.

Each frame column gets a SQLAlchemy type from its dtype: integers BIGINT (INTEGER up to 32 bits),
floats DOUBLE, booleans BOOLEAN, datetimes TIMESTAMP WITH TIME ZONE (naive values are UTC, as
everywhere in eventlift), timedeltas INTERVAL, everything else TEXT. Object columns are typed by
their values (dicts and lists become JSON text). Values are handed to the driver as plain Python
objects, ``None`` for every kind of missing value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventlift.core.sql import MAX_IDENTIFIER_LENGTH
from eventlift.exceptions import DataError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["column_type", "python_rows", "result_table"]


def result_table(
    name: str, frame: pd.DataFrame, metadata: sa.MetaData, schema: str | None, dialect: Any = None
) -> sa.Table:
    """A table definition for ``frame``: one column per frame column, types from the dtypes."""
    import sqlalchemy as sa

    limit = getattr(dialect, "max_identifier_length", None) or MAX_IDENTIFIER_LENGTH
    if len(set(frame.columns)) != len(frame.columns):
        raise DataError(f"table {name!r}: duplicate column names {list(frame.columns)}.")
    columns = []
    for column in frame.columns:
        if not isinstance(column, str) or not column or len(column) > limit:
            raise DataError(
                f"table {name!r}: column name {column!r} cannot be used in a database (names must "
                f"be non-empty text of at most {limit} characters). Fix: rename that column."
            )
        columns.append(sa.Column(column, column_type(frame[column])))
    return sa.Table(name, metadata, *columns, schema=schema)


def column_type(series: pd.Series) -> Any:
    """The SQLAlchemy type for a column of this dtype (object columns by their values)."""
    import sqlalchemy as sa

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(series.astype(dtype.categories.dtype))
    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        if dtype.kind == "u" and dtype.itemsize >= 8:
            return sa.Numeric(20, 0)
        return sa.Integer() if dtype.itemsize < 4 or dtype == np.int32 else sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Double()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return sa.DateTime(timezone=True)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return sa.Interval()
    if pd.api.types.is_object_dtype(dtype):
        kinds = {_value_kind(v) for v in series.dropna().head(10_000)}
        if len(kinds) == 1:
            return {
                "bool": sa.Boolean,
                "int": sa.BigInteger,
                "float": sa.Double,
                "datetime": lambda: sa.DateTime(timezone=True),
                "date": sa.Date,
                "decimal": sa.Numeric,
            }.get(kinds.pop(), sa.Text)()
        if kinds == {"int", "float"}:
            return sa.Double()
    return sa.Text()


def python_rows(frame: pd.DataFrame, table: sa.Table) -> list[tuple]:
    """The frame's rows as tuples of plain Python values (None for missing) in table order."""
    columns = [_python_values(frame[c.name], c.type) for c in table.columns]
    return list(zip(*columns, strict=True)) if columns else [()] * len(frame)


def _value_kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, dt.datetime | pd.Timestamp | np.datetime64):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    return "text"


def _python_values(series: pd.Series, sql_type: Any) -> list:
    """One column as Python values of the table's type; pandas/NumPy missing values -> None."""
    import sqlalchemy as sa

    missing = series.isna().to_numpy()
    if isinstance(sql_type, sa.DateTime):
        stamps = pd.to_datetime(series, utc=True)  # naive values are UTC
        values = stamps.dt.to_pydatetime()
    elif isinstance(sql_type, sa.Interval):
        values = series.dt.to_pytimedelta()
    elif isinstance(sql_type, sa.Double):
        values = series.to_numpy(dtype=float, na_value=np.nan).tolist()
    elif isinstance(sql_type, sa.Integer | sa.Numeric | sa.Boolean) and not missing.any():
        values = series.to_numpy().tolist()
    elif isinstance(sql_type, sa.Text):
        values = [_text(v) for v in series.astype(object).tolist()]
    else:
        values = [v.item() if isinstance(v, np.generic) else v for v in series.tolist()]
    if missing.any():
        values = [None if gone else v for v, gone in zip(values, missing, strict=True)]
    return list(values)


def _text(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return value if isinstance(value, str) else str(value)
