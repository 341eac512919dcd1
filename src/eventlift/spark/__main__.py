"""``python -m eventlift.spark CONFIG [--mode MODE]``: the ``eventlift spark`` command, for
``spark-submit`` (which runs a Python file or module, not a console script)."""

from __future__ import annotations

import sys

from eventlift.cli import app


def main() -> None:
    app(["spark", *sys.argv[1:]], prog_name="eventlift spark")


if __name__ == "__main__":
    main()
