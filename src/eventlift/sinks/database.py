"""Result tables in a DuckDB file, each replaced only once its new version is complete.

Every table is first written under a temporary name, then the old table is dropped and the new
one renamed, all inside one transaction: a query running against the file sees either the old
tables or the new ones, and a failure half-way leaves the old ones in place.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eventlift.exceptions import ConfigError

__all__ = ["quote_identifier", "write_duckdb_tables"]


def quote_identifier(name: str) -> str:
    """Quote a table name for SQL; names are checked to be plain identifiers first."""
    if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise ConfigError(
            f"table name {name!r} is not a plain identifier (letters, digits and underscores, "
            f"not starting with a digit)."
        )
    return '"' + name.replace('"', '""') + '"'


def write_duckdb_tables(path: str | Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Create or replace ``tables`` (name -> frame) in the DuckDB file at ``path``."""
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("BEGIN TRANSACTION")
        try:
            for name, frame in tables.items():
                table, staging = quote_identifier(name), quote_identifier(f"{name}__staging")
                connection.register("incoming_frame", frame)
                connection.execute(f"DROP TABLE IF EXISTS {staging}")
                connection.execute(f"CREATE TABLE {staging} AS SELECT * FROM incoming_frame")
                connection.unregister("incoming_frame")
                connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute(f"ALTER TABLE {staging} RENAME TO {table}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return path
