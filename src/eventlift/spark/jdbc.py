"""Result tables written through JDBC (``[spark] write = "jdbc"``), replaced only when complete.

Each table is written by Spark's JDBC writer (from the executors, in parallel) under a staging
name, ``<table>__incoming``; one JDBC transaction on the driver then drops the old table and
renames the staging one into place. On databases with transactional DDL (PostgreSQL) readers see
the old table or the new one, never a half-written one, and a failed write leaves the old table;
elsewhere the swap is two quick statements instead of a long load.
"""

from __future__ import annotations

from typing import Any

from eventlift.core.sql import check_identifier, mask_url
from eventlift.exceptions import ConfigError, DataError

__all__ = ["jdbc_table_name", "write_jdbc"]

# JDBC URL prefix -> driver class, for the drivers whose class Spark cannot be told otherwise.
KNOWN_DRIVERS = {
    "jdbc:postgresql:": "org.postgresql.Driver",
    "jdbc:mysql:": "com.mysql.cj.jdbc.Driver",
    "jdbc:mariadb:": "org.mariadb.jdbc.Driver",
    "jdbc:sqlserver:": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "jdbc:snowflake:": "net.snowflake.client.jdbc.SnowflakeDriver",
}


def jdbc_table_name(settings: Any, name: str) -> str:
    """``[schema.]prefix+name``, every part checked to be a plain identifier."""
    table = check_identifier(settings.table_prefix + name, "[spark] table_prefix + table name")
    if settings.jdbc_schema:
        return f"{check_identifier(settings.jdbc_schema, '[spark] jdbc_schema')}.{table}"
    return table


def driver_class(settings: Any) -> str:
    """The JDBC driver class: ``[spark] jdbc_driver``, or the known one for the URL's prefix."""
    if settings.jdbc_driver:
        return settings.jdbc_driver
    for prefix, driver in KNOWN_DRIVERS.items():
        if settings.jdbc_url.startswith(prefix):
            return driver
    raise ConfigError(
        f"[spark] jdbc_url = {mask_url(settings.jdbc_url)!r}: no known JDBC driver for it. Fix: "
        "set [spark] jdbc_driver to the driver's class name (e.g. 'org.postgresql.Driver')."
    )


def write_jdbc(table: Any, name: str, settings: Any) -> str:
    """Write ``table`` as ``name`` through JDBC: staging table first, then one swap."""
    target = jdbc_table_name(settings, name)
    staging = jdbc_table_name(settings, name + "__incoming")
    driver = driver_class(settings)
    try:
        (
            table.write.format("jdbc")
            .option("url", settings.jdbc_url)
            .option("driver", driver)
            .option("dbtable", staging)
            .mode("overwrite")
            .save()
        )
    except Exception as exc:
        raise DataError(
            f"Writing {staging} through JDBC to {mask_url(settings.jdbc_url)} failed: "
            f"{_first_line(exc)}. The previous {target} is untouched. Fix: check the URL, the "
            "credentials and that the driver jar is on the cluster's classpath."
        ) from exc
    _swap(table.sparkSession, settings.jdbc_url, driver, staging, target)
    return target


def _swap(spark: Any, url: str, driver: str, staging: str, target: str) -> None:
    """Drop ``target`` and rename ``staging`` to it in one transaction (driver side)."""
    jvm = spark.sparkContext._jvm
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    # The driver is instantiated from Spark's class loader: java.sql.DriverManager would only
    # see drivers on the JVM's own class path, not jars added with spark.jars.
    instance = loader.loadClass(driver).newInstance()
    connection = instance.connect(url, jvm.java.util.Properties())
    if connection is None:
        raise DataError(f"The JDBC driver {driver} does not accept {mask_url(url)}.")
    bare_target = target.rsplit(".", 1)[-1]
    try:
        connection.setAutoCommit(False)
        statement = connection.createStatement()
        statement.executeUpdate(f"DROP TABLE IF EXISTS {target}")
        statement.executeUpdate(f"ALTER TABLE {staging} RENAME TO {bare_target}")
        connection.commit()
    except Exception as exc:
        connection.rollback()
        raise DataError(
            f"Replacing {target} with {staging} failed: {_first_line(exc)}. The previous table "
            f"is untouched and {staging} holds the new rows."
        ) from exc
    finally:
        connection.close()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
