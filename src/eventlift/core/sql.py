"""Shared pieces for talking to databases: identifier checks, URLs and engines.

Names that end up in SQL text (tables, schemas) are checked to be plain identifiers before any
statement is built, and are then quoted by the dialect's identifier preparer; values always travel
as bound parameters. Database URLs are shown in messages with their password masked.
SQLAlchemy is an optional dependency (``pip install 'eventlift[warehouse]'``): it is imported
inside functions only, so a DuckDB-only install never needs it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from eventlift.exceptions import ConfigError, EventliftError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "check_database",
    "check_identifier",
    "create_engine",
    "database_error",
    "duckdb_file",
    "is_url",
    "mask_url",
]

# PostgreSQL silently truncates longer names (NAMEDATALEN - 1); refusing them is clearer.
MAX_IDENTIFIER_LENGTH = 63
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*://")
_SECRET_QUERY_KEYS = re.compile(r"(pass|secret|token|key|credential)", re.IGNORECASE)
_WAREHOUSE_EXTRA = "pip install 'eventlift[warehouse]'"


def check_identifier(name: Any, key: str, max_length: int = MAX_IDENTIFIER_LENGTH) -> str:
    """Return ``name`` when it is a plain SQL identifier, else raise ConfigError naming ``key``."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"{key} = {name!r} is not a plain identifier. Fix: use only letters, digits and "
            f"underscores, starting with a letter or underscore (e.g. 'analytics')."
        )
    if len(name) > max_length:
        raise ConfigError(
            f"{key} = {name!r} is {len(name)} characters long; at most {max_length} are allowed "
            f"here. Fix: choose a shorter name."
        )
    return name


def check_database(target: str, key: str) -> str:
    """Return ``target`` when it looks like a file path or ``scheme://...``; else ConfigError.

    Only the shape is checked here (no import, no connection); the URL itself is parsed when it
    is used.
    """
    if is_url(target) and not _URL_SCHEME.match(target):
        raise ConfigError(
            f"{key} = {mask_url(target)!r} is neither a file path nor a database URL. Fix: give "
            f"a DuckDB file path, or a SQLAlchemy URL such as "
            f"postgresql+psycopg://user@host:5432/database or snowflake://user@account/db/schema."
        )
    return target


def is_url(target: str) -> bool:
    """True for a SQLAlchemy-style URL (``dialect+driver://...``), False for a file path."""
    return "://" in target


def duckdb_file(target: str) -> str | None:
    """The DuckDB file a target names (a path, or ``duckdb:///path``), or None for other URLs."""
    if target.startswith("duckdb:///"):
        return target.removeprefix("duckdb:///")
    return None if is_url(target) else target


def mask_url(url: str) -> str:
    """``url`` with its password (and secret-looking query values) replaced by ``***``."""
    masked = re.sub(r"(://[^/@]*?:)[^/@]*@", r"\1***@", url)
    if "?" in masked:
        head, _, query = masked.partition("?")
        parts = []
        for part in query.split("&"):
            name, eq, _value = part.partition("=")
            parts.append(f"{name}=***" if eq and _SECRET_QUERY_KEYS.search(name) else part)
        masked = head + "?" + "&".join(parts)
    return masked


def create_engine(
    url: str, key: str, error: type[EventliftError] = ConfigError, **options: Any
) -> sa.Engine:
    """A SQLAlchemy engine for ``url``; a bad URL or a missing driver raises ``error``.

    ``postgresql://`` URLs use psycopg (3) when psycopg2 is not installed.
    """
    try:
        import sqlalchemy as sa
    except ImportError:
        raise error(
            f"{key} = {mask_url(url)!r} needs SQLAlchemy, which is not installed. Fix: "
            f"{_WAREHOUSE_EXTRA}."
        ) from None
    shown = mask_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise error(
            f"{key} = {shown!r} is not a valid database URL ({exc}). Fix: write it as "
            f"dialect+driver://user:password@host:port/database, e.g. "
            f"postgresql+psycopg://analyst@db.example.com:5432/analytics, or give a DuckDB "
            f"file path."
        ) from None
    if parsed.drivername == "postgresql" and not _importable("psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return sa.create_engine(parsed, **options)
    except sa.exc.NoSuchModuleError:
        raise error(
            f"{key} = {shown!r}: no SQLAlchemy dialect {parsed.drivername!r} is installed. Fix: "
            f"{_WAREHOUSE_EXTRA} for PostgreSQL (postgresql+psycopg://...), pip install "
            f"snowflake-sqlalchemy for Snowflake, or the dialect package of your database."
        ) from None
    except ImportError as exc:
        raise error(
            f"{key} = {shown!r}: the database driver {exc.name or exc} is not installed. Fix: "
            f"install it, or name an installed driver in the URL (e.g. postgresql+psycopg://)."
        ) from None


def database_error(exc: BaseException, url: str) -> str:
    """A short reason for a database error: the driver's message, never bound values."""
    reason = str(getattr(exc, "orig", None) or exc).strip()
    reason = reason.split("\n[SQL:")[0].split("\n(Background on this error")[0].strip()
    password = _password(url)
    if password:
        from urllib.parse import unquote

        for secret in {password, unquote(password)}:
            reason = reason.replace(secret, "***")
    return reason or type(exc).__name__


def _password(url: str) -> str | None:
    match = re.search(r"://[^/@]*?:([^/@]*)@", url)
    return match.group(1) if match and match.group(1) else None


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
