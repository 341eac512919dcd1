"""Typed run configuration, read from one TOML file and validated at the boundary.

Each TOML section maps to one frozen dataclass. Unknown sections or keys and values of the wrong
type raise :class:`~eventlift.exceptions.ConfigError` naming the key, the allowed keys or type, and
what was received, so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eventlift.config_ranges import (
    AT_LEAST_ONE,
    LEARNING_RATE,
    NON_NEGATIVE,
    POSITIVE,
    check_device,
    check_numbers,
    check_window,
)
from eventlift.core.toml_sections import build_section, read_toml
from eventlift.exceptions import ConfigError

__all__ = [
    "DEFAULT_SESSION_COLUMN",
    "MODES",
    "AttributionConfig",
    "ColumnsConfig",
    "Config",
    "InputConfig",
    "ModelConfig",
    "OutputConfig",
    "SessionsConfig",
    "TrainConfig",
    "load_config",
    "resolve_paths",
]

MODES = ("no_funnel", "with_funnel")


@dataclass(frozen=True)
class InputConfig:
    """Where the events come from (a file, or a SQL query against a DuckDB file or a URL)."""

    path: str | None = None  # a file, a folder of files or a glob such as "events/*.parquet"
    format: Literal["auto", "csv", "parquet", "jsonl"] = "auto"
    query: str | None = None  # SQL run against `database` instead of reading `path`
    database: str | None = None  # DuckDB file or SQLAlchemy URL for `query`
    fetch_rows: int = 50_000  # rows fetched per round trip when streaming a query's result
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"  # for epoch numbers
    timezone: str | None = None  # IANA zone of naive timestamps (None: they are UTC)
    on_bad_lines: Literal["error", "skip"] = "error"  # malformed CSV / JSON lines
    delimiter: str | None = None  # CSV field separator; None detects it from the header
    nested_events: str | None = None  # JSON lines with one object per session: the list field
    stores: str | None = None  # optional store dimension table (CSV/Parquet), joined on store_id
    max_sessions: int | None = None  # keep a reproducible sample of this many sessions (or users)


DEFAULT_SESSION_COLUMN = "session_id"


@dataclass(frozen=True)
class ColumnsConfig:
    """Maps the roles of the data contract onto the user's column names.

    Every role but ``timestamp`` and ``event`` is optional: None or ``""`` leaves it unmapped.
    ``session_id`` left out (None) means "the column ``session_id`` when the input has one,
    else sessions derived from ``user_id`` by inactivity"; :meth:`resolve` settles it once
    against the input, so that every later step sees one value: a column name, or ``""`` for
    derived sessions.
    """

    session_id: str | None = None
    user_id: str | None = None
    timestamp: str = "timestamp"
    event: str = "event"
    event_category: str | None = None
    event_detail: str | None = None
    store_id: str | None = None
    store_name: str | None = None

    def resolve(self, has_session_column: bool) -> ColumnsConfig:
        """This mapping with a left-out ``session_id`` settled.

        Parameters
        ----------
        has_session_column
            Whether the input holds the default column ``session_id`` (or, for a canonical
            event frame, any session id at all).

        Returns
        -------
        ColumnsConfig
            ``self`` when ``session_id`` was set (an explicit name stays, and a missing column is
            the reader's error); else ``session_id = "session_id"`` when that column exists or
            no ``user_id`` is mapped (the reader then names the missing column and the fix), and
            ``session_id = ""`` (sessions derived from ``user_id``) otherwise.
        """
        if self.session_id is not None:
            return self
        others = {getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "session_id"}
        usable = has_session_column and DEFAULT_SESSION_COLUMN not in others  # not another role's
        derive = bool(self.user_id) and not usable
        return dataclasses.replace(self, session_id="" if derive else DEFAULT_SESSION_COLUMN)


@dataclass(frozen=True)
class SessionsConfig:
    """How events become labelled sequences."""

    conversion_events: list[str] = field(default_factory=list)
    funnel_categories: list[str] = field(default_factory=lambda: ["funnel"])
    funnel_events: list[str] = field(default_factory=list)
    inactivity_gap_minutes: float = 30.0
    derive_sessions: bool = False  # split by inactivity even when a session_id is mapped
    max_len: int = 50
    truncate: Literal["head", "tail"] = "head"
    use_event_detail: bool = False  # token becomes "event - detail"
    # how much of each session the model sees (eventlift.data.windows): "full"; "prefix" (the
    # first window_events events and/or window_minutes minutes of every session); "matched"
    # (non-converted sessions cut at the lengths where converted ones were cut)
    window: Literal["full", "prefix", "matched"] = "full"
    window_events: int | None = None
    window_minutes: float | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Size of the Transformer encoder."""

    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    # "auto": chosen from the training split's size (eventlift.model.capacity): 0.1 on small
    # logs, where it raised test AUC; 0 on large ones, where dropout masks cost about a third of
    # a CPU training step and moved the demo's test AUC by 0.001 (benchmarks/README.md)
    dropout: float | Literal["auto"] = "auto"
    # models averaged (seeds of the same shape, trained side by side); "auto": several on
    # small logs, where one model's AUC moves by a few hundredths from seed to seed, one on large
    members: int | Literal["auto"] = "auto"
    gap_buckets: int = 16  # log2-bucketed seconds since the previous event
    # "auto": bfloat16 autocast where faster; "bfloat16": always (see EventTransformer.autocast)
    precision: Literal["float32", "bfloat16", "auto"] = "float32"

    @property
    def dropout_rate(self) -> float:
        """The dropout probability; ``"auto"`` not yet settled reads as on a large log (0)."""
        return 0.0 if self.dropout == "auto" else float(self.dropout)

    @property
    def member_count(self) -> int:
        """Models averaged; ``"auto"`` not yet settled reads as on a large log (1)."""
        return 1 if self.members == "auto" else int(self.members)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, splitting and vocabulary settings; `seed` drives every random choice."""

    seed: int = 42
    epochs: int = 20
    patience: int = 3  # validation checks without improvement before training stops
    # on large data, also check validation AUC every this many training sessions within an epoch
    # (0: only at the end of each epoch), so early stopping does not wait for a whole epoch
    validate_every: int = 100_000
    validation_sessions: int = 50_000  # validation sessions scored per check (0: all)
    batch_size: int = 256
    learning_rate: float = 2e-3
    # "auto": chosen from the training split's size (eventlift.model.capacity): 0.1 on small
    # logs, 0.01 on large ones
    weight_decay: float | Literal["auto"] = "auto"
    pos_weight: float | None = None  # weight of converted sessions in the loss
    split: Literal["random", "time"] = "random"
    split_fractions: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    min_count: int = 5  # rarer events, categories and stores share the <unk> id
    threads: int | None = None  # torch intra-op threads; None keeps torch's default
    device: str = "auto"  # "auto" (CUDA when present, else CPU), "cpu", "cuda", "cuda:1", ...
    # how predicted probabilities are calibrated on the validation split (eventlift.model.
    # calibration): "auto" picks by cross-fitted validation log loss
    calibration: Literal["auto", "temperature", "platt", "isotonic", "none"] = "auto"

    @property
    def weight_decay_rate(self) -> float:
        """AdamW's weight decay; ``"auto"`` not yet settled reads as on a large log (0.01)."""
        return 0.01 if self.weight_decay == "auto" else float(self.weight_decay)


# The attribution methods by name: config validation, the CLI help and the registry of
# eventlift.attribution (which maps each name to its class) all read this one tuple.
ATTRIBUTION_METHODS = (
    "grad_x_input",
    "integrated_gradients",
    "attention",
    "attention_rollout",
    "occlusion",
)


@dataclass(frozen=True)
class AttributionConfig:
    """Per-event explanation and its roll-up."""

    method: Literal[ATTRIBUTION_METHODS] = "grad_x_input"
    split: Literal["test", "all"] = "test"
    position_buckets: list[int] = field(default_factory=lambda: [1, 6, 11, 21, 51])
    min_support: int = 20
    bootstrap: int = 200
    batch_size: int = 512
    faithfulness_sessions: int = 500  # sessions scored by deletion curves; 0 turns them off
    stability_seeds: int = 0  # train with this many seeds (2+) and compare event-type lift ranks
    # sessions of the attribution split scored for the signed effects (eventlift.analysis.
    # effects), drawn with the seed; 0 scores every one
    effect_sessions: int = 20_000


@dataclass(frozen=True)
class OutputConfig:
    """Where results go."""

    dir: str = "eventlift_output"
    database: str | None = "eventlift.duckdb"  # file under `dir`, a path, or a SQLAlchemy URL
    schema: str | None = None  # database schema for the result and runs tables
    runs_table: str = "runs"  # appended once per run, never replaced
    modes: list[str] = field(default_factory=lambda: ["no_funnel"])
    write_plots: bool = True


@dataclass(frozen=True)
class Config:
    """The whole run configuration; build it with :func:`load_config` or :meth:`from_dict`."""

    input: InputConfig = field(default_factory=InputConfig)
    columns: ColumnsConfig = field(default_factory=ColumnsConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        """Validate a nested mapping (as read from TOML) into a :class:`Config`."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
        sections = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ConfigError(
                f"{source}: unknown section [{unknown[0]}]; allowed sections are "
                f"{', '.join('[' + s + ']' for s in sections)}."
            )
        built = {}
        for name, value in data.items():
            section_type = typing.get_type_hints(cls)[name]
            built[name] = build_section(section_type, value, f"{source} [{name}]")
        config = cls(**built)
        config.check()
        return config

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (for the run summary and checkpoints)."""
        return dataclasses.asdict(self)

    def to_public_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with database passwords masked: what summaries and hashes record."""
        from eventlift.core.sql import mask_url

        resolved = self.to_dict()
        for section in ("input", "output"):
            value = resolved[section].get("database")
            if value:
                resolved[section]["database"] = mask_url(value)
        return resolved

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A copy with some keys of some sections replaced, validated like a file."""
        merged = self.to_dict()
        for section, values in sections.items():
            if section not in merged:
                raise ConfigError(f"unknown section [{section}]")
            merged[section] = {**merged[section], **values}
        return Config.from_dict(merged)

    def check(self) -> None:
        """Cross-field rules that single key types cannot express."""
        fractions = self.train.split_fractions
        if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
            raise ConfigError(
                f"[train] split_fractions must be three non-negative numbers summing to 1 "
                f"(train, validation, test), got {fractions}."
            )
        if min(fractions[1], fractions[2]) <= 0:
            raise ConfigError("[train] split_fractions: validation and test fractions must be > 0.")
        for mode in self.output.modes:
            if mode not in MODES:
                raise ConfigError(f"[output] modes: unknown mode {mode!r}; allowed: {list(MODES)}.")
        edges = self.attribution.position_buckets
        if not edges or edges[0] != 1 or any(b <= a for a, b in itertools.pairwise(edges)):
            raise ConfigError(
                f"[attribution] position_buckets must be increasing bucket starts beginning at 1, "
                f"e.g. [1, 6, 11, 21, 51]; got {edges}."
            )
        if self.model.d_model % self.model.n_heads:
            raise ConfigError(
                f"[model] d_model ({self.model.d_model}) must be divisible by n_heads "
                f"({self.model.n_heads})."
            )
        positive = {
            "[sessions] max_len": self.sessions.max_len,
            "[model] d_model": self.model.d_model,
            "[model] n_layers": self.model.n_layers,
            "[train] epochs": self.train.epochs,
            "[train] batch_size": self.train.batch_size,
            "[attribution] batch_size": self.attribution.batch_size,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{key} must be positive, got {value}.")
        if self.attribution.stability_seeds < 0 or self.attribution.stability_seeds == 1:
            raise ConfigError(
                "[attribution] stability_seeds must be 0 (off) or at least 2 (the run's seed and "
                f"the next ones), got {self.attribution.stability_seeds}."
            )
        for key, value in (
            ("[train] validate_every", self.train.validate_every),
            ("[train] validation_sessions", self.train.validation_sessions),
            ("[attribution] effect_sessions", self.attribution.effect_sessions),
        ):
            if value < 0:
                raise ConfigError(f"{key} must be 0 (off) or positive, got {value}.")
        if self.input.max_sessions is not None and self.input.max_sessions <= 0:
            raise ConfigError(
                f"[input] max_sessions must be positive (or left out for all sessions), got "
                f"{self.input.max_sessions}."
            )
        self._check_input()
        self._check_ranges()
        if not 0 <= self.model.dropout_rate < 1:
            raise ConfigError(
                f'[model] dropout must be "auto" or in [0, 1), got {self.model.dropout}.'
            )
        if self.model.member_count < 1:
            raise ConfigError(
                f'[model] members must be "auto" or at least 1, got {self.model.members}.'
            )
        if self.train.weight_decay_rate < 0:
            raise ConfigError(
                f'[train] weight_decay must be "auto" or 0 or more, got {self.train.weight_decay}.'
            )
        if self.input.path and self.input.query:
            raise ConfigError("[input] give either `path` or `query`, not both.")
        if self.input.query and not self.input.database:
            raise ConfigError(
                "[input] `query` needs `database`: a DuckDB file or a SQLAlchemy URL such as "
                "postgresql+psycopg://user@host:5432/analytics to run it against."
            )
        self._check_databases()

    def _check_ranges(self) -> None:
        """Every numeric setting finite and in range (:mod:`eventlift.config_ranges`)."""
        train, sessions, model, attribution = (
            self.train,
            self.sessions,
            self.model,
            self.attribution,
        )
        values = [
            ("[train] learning_rate", train.learning_rate, LEARNING_RATE),
            ("[train] patience", train.patience, NON_NEGATIVE),
            ("[train] min_count", train.min_count, AT_LEAST_ONE),
            ("[sessions] inactivity_gap_minutes", sessions.inactivity_gap_minutes, POSITIVE),
            ("[model] n_heads", model.n_heads, AT_LEAST_ONE),
            ("[model] d_ff", model.d_ff, AT_LEAST_ONE),
            ("[model] gap_buckets", model.gap_buckets, AT_LEAST_ONE),
            ("[attribution] bootstrap", attribution.bootstrap, NON_NEGATIVE),
            ("[attribution] min_support", attribution.min_support, NON_NEGATIVE),
            (
                "[attribution] faithfulness_sessions",
                attribution.faithfulness_sessions,
                NON_NEGATIVE,
            ),
            *(("[train] split_fractions", share, NON_NEGATIVE) for share in train.split_fractions),
        ]
        if train.weight_decay != "auto":
            values.append(("[train] weight_decay", train.weight_decay, NON_NEGATIVE))
        if train.pos_weight is not None:
            values.append(("[train] pos_weight", train.pos_weight, POSITIVE))
        check_numbers(values)
        check_device(train.device)
        check_window(sessions.window, sessions.window_events, sessions.window_minutes)

    def _check_input(self) -> None:
        """The zone name exists and the delimiter is one character, before any file is read."""
        zone = self.input.timezone
        if zone is not None:
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"[input] timezone: {zone!r} is not a time zone name. Fix: use an IANA name "
                    f'such as "Europe/Berlin", "America/New_York" or "UTC" (the zone of '
                    f"timestamps written without one)."
                ) from None
        delimiter = self.input.delimiter
        if delimiter is not None and (len(delimiter) != 1 or delimiter in '\r\n"'):
            raise ConfigError(
                f'[input] delimiter must be one character such as ",", ";" or "\\t", '
                f"got {delimiter!r}."
            )

    def _check_databases(self) -> None:
        """Database targets look like paths or URLs; names that reach SQL are identifiers."""
        from eventlift.core.sql import check_database, check_identifier

        if self.input.fetch_rows <= 0:
            raise ConfigError(f"[input] fetch_rows must be positive, got {self.input.fetch_rows}.")
        for key, value in (
            ("[input] database", self.input.database),
            ("[output] database", self.output.database),
        ):
            if value:
                check_database(value, key)
        if self.output.schema:
            check_identifier(self.output.schema, "[output] schema")
        check_identifier(self.output.runs_table, "[output] runs_table")


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file; relative paths in it resolve against its folder."""
    config = Config.from_dict(read_toml(path), source=str(path))
    return resolve_paths(config, Path(path).parent)


def resolve_paths(config: Config, base: Path) -> Config:
    """Relative file paths of ``config`` made relative to ``base`` (the config file's folder)."""

    def resolve(value: str | None) -> str | None:
        if not value or Path(value).is_absolute() or "://" in value:
            return value
        return str(base / value)

    return dataclasses.replace(
        config,
        input=dataclasses.replace(
            config.input,
            path=resolve(config.input.path),
            database=resolve(config.input.database),
            stores=resolve(config.input.stores),
        ),
        output=dataclasses.replace(config.output, dir=resolve(config.output.dir)),
    )
