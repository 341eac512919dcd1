"""The model's regularisation and seed averaging, settled from the size of the training split.

A few thousand training sessions are too few for one Transformer of the default size: its test
AUC moved by a few hundredths from seed to seed, and counting baselines beat it on most such logs.
Measured on generated logs of 4,000 sessions (benchmarks/README.md, "Capacity on small logs"),
dropout 0.1 with weight decay 0.1 and the mean of several seeds' models each raised test AUC;
together they turned a deficit against the validation-chosen baseline into a lead. On large logs
neither pays: the demo's 21,000 training sessions moved by 0.001 with dropout, and each member
multiplies the training time, so the one-million-session log trains exactly as before.

``"auto"`` in ``[model] dropout``, ``[model] members`` and ``[train] weight_decay`` asks for this
rule; a number there is used as written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from eventlift.config import Config

__all__ = ["MAX_MEMBERS", "MEMBER_BUDGET", "SMALL_TRAINING", "settle_capacity"]

SMALL_TRAINING = 5_000  # training sessions below which a log is small (regularised more)
MEMBER_BUDGET = 15_000  # members x training sessions stay within this many (at least 1 member)
MAX_MEMBERS = 5


def settle_capacity(config: Config, training_sessions: int) -> tuple[Config, dict[str, Any]]:
    """``config`` with every ``"auto"`` capacity key replaced by its value for this log.

    Returns the settled config and the run summary's ``capacity`` entry: the training sessions
    the rule read, the value of each key, where it came from (``"auto"`` or ``"config"``), and a
    sentence that says why.
    """
    small = training_sessions < SMALL_TRAINING
    automatic = {
        "dropout": 0.1 if small else 0.0,
        "members": max(1, min(MAX_MEMBERS, MEMBER_BUDGET // max(training_sessions, 1))),
        "weight_decay": 0.1 if small else 0.01,
    }
    given = {
        "dropout": config.model.dropout,
        "members": config.model.members,
        "weight_decay": config.train.weight_decay,
    }
    values = {key: automatic[key] if given[key] == "auto" else given[key] for key in given}
    settled = dataclasses.replace(
        config,
        model=dataclasses.replace(
            config.model, dropout=values["dropout"], members=values["members"]
        ),
        train=dataclasses.replace(config.train, weight_decay=values["weight_decay"]),
    )
    configured = [key.replace("_", " ") for key in given if given[key] != "auto"]
    record = {
        "training_sessions": int(training_sessions),
        **values,
        "source": {key: "auto" if given[key] == "auto" else "config" for key in given},
        "why": (
            f"{training_sessions:,} training sessions: a {'small' if small else 'large'} log "
            f"(small below {SMALL_TRAINING:,}), so dropout {values['dropout']:g}, weight decay "
            f"{values['weight_decay']:g} and {values['members']} model"
            f"{'s' if values['members'] != 1 else ''} averaged (at most {MAX_MEMBERS}, and "
            f"{MEMBER_BUDGET:,} training sessions x models)"
            + (f"; {', '.join(configured)} as configured" if configured else "")
        ),
    }
    return settled, record
