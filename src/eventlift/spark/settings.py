"""The ``[spark]`` section of a config file: how the Spark path trains, reads and writes.

The rest of the file is the ordinary :class:`~eventlift.config.Config`, so one TOML drives both
paths; the local path never reads ``[spark]`` (load such files with :func:`load_spark_config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eventlift.config import Config, resolve_paths
from eventlift.core.toml_sections import build_section, read_toml
from eventlift.exceptions import ConfigError

__all__ = ["SparkSettings", "load_spark_config"]


@dataclass(frozen=True)
class SparkSettings:
    """Spark-only settings; every key has a default."""

    input_table: str | None = None  # catalog table read instead of [input] path
    train: Literal["driver", "distributor"] = "driver"  # where the model is trained
    sample_sessions: int = 0  # train/validation sessions collected for driver training; 0 = all
    num_processes: int = 2  # TorchDistributor processes (GPUs with use_gpu)
    use_gpu: bool = False  # TorchDistributor on GPUs (NCCL) instead of CPUs (gloo)
    staging_dir: str | None = None  # encoded shards for the distributor; default under [output]
    task_threads: int = 1  # torch threads per Spark task (attribution) and per training process
    write: Literal["parquet", "delta", "table", "jdbc"] = "parquet"  # how result tables are written
    table_prefix: str = "eventlift_"  # table name prefix ("table": may hold a database, "db.el_")
    jdbc_url: str | None = None  # write = "jdbc": e.g. "jdbc:postgresql://host:5432/db?user=me"
    jdbc_schema: str | None = None  # write = "jdbc": database schema of the tables (must exist)
    jdbc_driver: str | None = None  # write = "jdbc": driver class; known URL prefixes need none
    master: str | None = None  # used only when no SparkSession is running, e.g. "local[4]"

    def check(self) -> None:
        for key in ("num_processes", "task_threads"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"[spark] {key} must be positive, got {getattr(self, key)}.")
        if self.write == "jdbc" and not self.jdbc_url:
            raise ConfigError(
                '[spark] write = "jdbc" needs jdbc_url, e.g. '
                '"jdbc:postgresql://host:5432/analytics?user=analyst".'
            )
        if self.sample_sessions < 0:
            raise ConfigError(
                f"[spark] sample_sessions must be >= 0 (0: all), got {self.sample_sessions}."
            )


def load_spark_config(path: str | Path) -> tuple[Config, SparkSettings]:
    """Read a TOML config with an optional ``[spark]`` section; both parts validated."""
    path = Path(path)
    data = read_toml(path)
    spark_section = data.pop("spark", {})
    config = resolve_paths(Config.from_dict(data, source=str(path)), path.parent)
    settings = build_section(SparkSettings, spark_section, f"{path} [spark]")
    settings.check()
    return config, settings
