"""TOML tables into typed, frozen dataclasses, with messages that name the key.

A section is a dataclass; every key of its TOML table must be one of its fields and hold a value
of the field's type (``str``, ``int``, ``float``, ``bool``, ``Literal[...]``, ``list[...]``,
unions with ``None``). Anything else raises :class:`~eventlift.exceptions.ConfigError` naming the
file and key, what is allowed and what was received, so a typo never falls back to a default.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from eventlift.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["build_section", "read_toml"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML file, or a :class:`ConfigError` naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from None


def build_section(section_type: type, values: Any, where: str) -> Any:
    """Validate one TOML table into the dataclass ``section_type``; errors name ``where``."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {values!r}.")
    hints = typing.get_type_hints(section_type)
    allowed = [f.name for f in dataclasses.fields(section_type)]
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(
                f"{where}: unknown key {key!r}; allowed keys are {', '.join(allowed)}."
            )
        kwargs[key] = _check_value(hints[key], value, f"{where} {key}")
    return section_type(**kwargs)


def _check_value(expected: Any, value: Any, where: str) -> Any:
    """Return `value` (ints widened to float where a float is expected) or raise ConfigError."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(expected):
            try:
                return _check_value(option, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_describe(expected)}, got {value!r}.")
    if origin is Literal:
        if value not in typing.get_args(expected):
            choices = ", ".join(repr(c) for c in typing.get_args(expected))
            raise ConfigError(f"{where}: expected one of {choices}, got {value!r}.")
        return value
    if origin is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {_describe(expected)}, got {value!r}.")
        return [_check_value(item_type, item, where) for item in value]
    if expected is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected nothing, got {value!r}.")
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}.")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: expected {_describe(expected)}, got {value!r}.")
    return value


def _describe(expected: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(expected) if a is not type(None))
    if origin is list:
        return f"a list of {_describe(typing.get_args(expected)[0]).removeprefix('a ')}s"
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(expected))
    return names.get(expected, getattr(expected, "__name__", str(expected)))
