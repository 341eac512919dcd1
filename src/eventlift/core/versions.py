"""The eventlift version, and the versions of the libraries a run's results depend on."""

from __future__ import annotations

import platform

__all__ = ["VERSION", "package_versions"]

VERSION = "0.1.0"


def package_versions(**extra: str) -> dict[str, str]:
    """eventlift, Python, torch, numpy and pandas versions, plus ``extra`` (e.g. ``spark=``)."""
    import numpy
    import pandas
    import torch

    return {
        "eventlift": VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        **extra,
    }
