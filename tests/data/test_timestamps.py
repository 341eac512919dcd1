"""Timestamp forms that real exports write: zone names, mixed zones, local times, epoch units."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from eventlift.config import Config
from eventlift.data.timestamps import parse_timestamps, resolve_epoch_unit
from eventlift.exceptions import ConfigError, TimestampError


def parse(values: list, **options: object) -> tuple[list[pd.Timestamp], list[str]]:
    notes: list[str] = []
    parsed = parse_timestamps(pd.Series(values), column="ts", notes=notes, **options)
    assert parsed.dtype == "datetime64[us]"
    return parsed.tolist(), notes


def test_zone_names_after_the_time_are_read():
    parsed, notes = parse(
        [
            "2019-10-01 00:00:00 UTC",
            "2019-10-01 00:00:05 GMT",
            "2024-03-01 10:00:00 Europe/Berlin",
            "2024-07-01 10:00:00.250 Europe/Berlin",
        ]
    )
    assert parsed == [
        pd.Timestamp("2019-10-01 00:00:00"),
        pd.Timestamp("2019-10-01 00:00:05"),
        pd.Timestamp("2024-03-01 09:00:00"),  # CET, UTC+1
        pd.Timestamp("2024-07-01 08:00:00.250"),  # CEST, UTC+2
    ]
    assert notes == ["timestamp column 'ts': times in Europe/Berlin converted to UTC."]


def test_only_utc_zone_names_leave_no_note():
    parsed, notes = parse(["2019-10-01 00:00:00 UTC", "2019-10-01 00:00:00Z"])
    assert parsed == [pd.Timestamp("2019-10-01")] * 2
    assert notes == []


def test_mixed_zones_in_one_column_are_converted_to_utc():
    parsed, notes = parse(
        [
            "2024-03-01T09:00:00Z",
            "2024-03-01 14:30:00+05:30",
            "2024-03-01T01:00:00-0800",
            "2024-03-01 09:00:00 GMT",
            "2024-03-01 04:00:00 America/New_York",
            "2024-03-01 09:00:00",
        ]
    )
    assert parsed == [pd.Timestamp("2024-03-01 09:00")] * 6
    assert notes == [
        "timestamp column 'ts': times with UTC offsets and in America/New_York converted to UTC."
    ]


def test_naive_text_and_datetimes_are_read_in_the_configured_zone():
    text, notes = parse(
        ["2024-03-01 10:00:00", "2024-07-01 10:00:00", "2024-07-01 10:00:00Z", "2024-07-02"],
        timezone="Europe/Berlin",
    )
    assert text == [
        pd.Timestamp("2024-03-01 09:00"),
        pd.Timestamp("2024-07-01 08:00"),
        pd.Timestamp("2024-07-01 10:00"),  # an explicit zone wins over [input] timezone
        pd.Timestamp("2024-07-01 22:00"),  # a date is midnight local time
    ]
    assert notes == ["timestamp column 'ts': times in Europe/Berlin converted to UTC."]
    column = pd.Series(pd.to_datetime(["2024-01-15 12:00", "2024-06-15 12:00"]))
    parsed, _ = parse(column, timezone="America/New_York")
    assert parsed == [pd.Timestamp("2024-01-15 17:00"), pd.Timestamp("2024-06-15 16:00")]
    mixed = [dt.datetime(2024, 1, 15, 12), pd.Timestamp("2024-01-15 12:00", tz="UTC")]
    parsed, _ = parse(pd.Series(mixed, dtype=object), timezone="Asia/Kolkata")
    assert parsed == [pd.Timestamp("2024-01-15 06:30"), pd.Timestamp("2024-01-15 12:00")]


def test_local_times_at_clock_changes():
    parsed, _ = parse(
        ["2024-10-27 02:30:00", "2024-03-31 02:30:00"], timezone="Europe/Berlin"
    )  # the first happens twice (summer time is taken), the second never (moves forward)
    assert parsed == [pd.Timestamp("2024-10-27 00:30"), pd.Timestamp("2024-03-31 01:00")]


EPOCHS = {
    "s": (1_700_000_000, "seconds", pd.Timestamp("2023-11-14 22:13:20")),
    "ms": (1_700_000_000_123, "milliseconds", pd.Timestamp("2023-11-14 22:13:20.123")),
    "us": (1_700_000_000_123_456, "microseconds", pd.Timestamp("2023-11-14 22:13:20.123456")),
    "ns": (1_700_000_000_123_456_789, "nanoseconds", pd.Timestamp("2023-11-14 22:13:20.123456")),
}


@pytest.mark.parametrize(("number", "name", "expected"), EPOCHS.values(), ids=EPOCHS.keys())
@pytest.mark.parametrize("as_text", [False, True], ids=["numbers", "digits"])
def test_epoch_units_are_detected_by_magnitude_and_noted(number, name, expected, as_text):
    values = [number, number + 0]
    parsed, notes = parse([str(v) for v in values] if as_text else values)
    assert parsed == [expected, expected]
    assert notes == [
        f"timestamp column 'ts': epoch numbers read as {name} (detected by magnitude; set "
        f"[input] timestamp_unit to override)."
    ]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_configured_epoch_unit_is_used_without_a_note(unit):
    number, _, expected = EPOCHS[unit]
    parsed, notes = parse([number], unit=unit)
    assert parsed == [expected]
    assert notes == []


def test_auto_bands():
    assert [resolve_epoch_unit([v], "auto") for v in (1e11, 1.01e11, 1e14, 1e17, 2e17)] == [
        "s",
        "ms",
        "ms",
        "us",
        "ns",
    ]


def test_unknown_zone_names_are_offending_rows():
    with pytest.raises(
        TimestampError,
        match=r"(?s)1 of 2 rows in timestamp column 'ts'.*row_number=1, "
        r"ts='2024-03-01 10:00:00 CEST'.*followed by a zone name",
    ):
        parse(["2024-03-01 10:00:00 UTC", "2024-03-01 10:00:00 CEST"])


def test_a_wrong_configured_unit_is_reported_with_its_name():
    with pytest.raises(TimestampError, match=r"read as microseconds \(configured\)"):
        parse(["2024-01-01T00:00:00Z", "1700000000123456789"], unit="us")


def test_timezone_is_checked_when_the_config_loads():
    assert Config.from_dict({"input": {"timezone": "Europe/Berlin"}}).input.timezone
    with pytest.raises(
        ConfigError, match=r"\[input\] timezone: 'CEST' is not a time zone name.*Europe/Berlin"
    ):
        Config.from_dict({"input": {"timezone": "CEST"}})
