"""``python -m eventlift.cli``: the ``eventlift`` command without the console script."""

from eventlift.cli.commands import main

if __name__ == "__main__":
    main()
