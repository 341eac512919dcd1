"""Fixtures every test folder may use; the helpers they share are in :mod:`support`."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def export_events() -> pd.DataFrame:
    """A small synthetic log (6 sessions, about 130 events, ms timestamps) to write awkward exports
    of with :func:`eventlift.data.exports.write_export`; tests must not modify it."""
    from eventlift.data.synthetic import generate_events

    return generate_events(n_sessions=6, seed=1)[0]
