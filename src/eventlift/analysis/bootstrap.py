"""Percentile bootstrap of attribution lifts over sessions.

The sampling unit of a lift is the session: the events of one session share a label and one
normalisation (their attributions sum to 1), so they are not independent draws. A resample takes
``S`` sessions with replacement; it is written as a vector of multiplicities ``w`` (how often each
session was drawn). For a table with ``G`` groups, the sums a lift needs (attribution and event
counts, split by converted) form a sparse ``(4G, S)`` matrix ``X``, and the sums of ``B`` resamples
at once are the single product ``X @ w.T``. A whole table's bootstrap therefore costs one matrix
product per block of resamples instead of ``B`` group-bys.

The intervals of the event-type, position and store tables are computed together, in one pass over
the same resamples, so that they are coherent with one another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from scipy import sparse

__all__ = ["SessionBootstrap"]

# Largest multiplicity block held in memory at once, in elements (float64: 32 MiB).
_BLOCK_ELEMENTS = 1 << 22


class SessionBootstrap:
    """Resample sessions with replacement and return percentile intervals of group lifts.

    Parameters
    ----------
    session_codes
        ``(E,)`` integer code ``0..S-1`` of each event's session.
    session_converted
        ``(S,)`` whether each session converted.
    n_resamples
        Number of resamples ``B``; 0 turns the bootstrap off (intervals are NaN).
    seed
        Seed of the resamples; the same seed gives the same resamples on every call.
    level
        Coverage of the two-sided percentile interval.
    """

    def __init__(
        self,
        session_codes: np.ndarray,
        session_converted: np.ndarray,
        n_resamples: int,
        seed: int,
        level: float = 0.95,
    ) -> None:
        self.session_codes = np.asarray(session_codes, dtype=np.int64)  # (E,)
        self.session_converted = np.asarray(session_converted, dtype=bool)  # (S,)
        self.n_resamples = int(n_resamples)
        self.seed = seed
        self.level = level

    @property
    def n_sessions(self) -> int:
        """Number of sessions ``S`` that a resample draws."""
        return len(self.session_converted)

    def weight_blocks(self) -> Iterator[np.ndarray]:
        """Yield the session multiplicities of all resamples, a block of rows at a time.

        Each block is a ``(b, S)`` float array whose rows sum to ``S``; the blocks together hold
        ``B`` rows. The stream restarts from the seed on every call.
        """
        n_sessions = self.n_sessions
        rng = np.random.default_rng(self.seed)
        block = max(1, min(self.n_resamples, _BLOCK_ELEMENTS // max(n_sessions, 1)))
        for start in range(0, self.n_resamples, block):
            rows = min(block, self.n_resamples - start)
            draws = rng.integers(0, n_sessions, size=(rows, n_sessions))  # (b, S)
            flat = (draws + np.arange(rows)[:, None] * n_sessions).ravel()  # (b * S,)
            counts = np.bincount(flat, minlength=rows * n_sessions)
            yield counts.reshape(rows, n_sessions).astype(np.float64)  # (b, S)

    def lift_intervals(
        self,
        groupings: Sequence[tuple[np.ndarray, int]],
        values: np.ndarray,
        per_session: Sequence[bool] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Percentile interval of each group's lift of ``values``, for several groupings at once.

        All groupings are evaluated on the same resamples, in one pass over them.

        Parameters
        ----------
        groupings
            ``(codes, G)`` pairs: ``codes`` is the ``(E,)`` group ``0..G-1`` of each event
            (negative to leave the event out), ``G`` the number of groups.
        values
            ``(E,)`` per-event score whose converted-minus-not mean is the lift.
        per_session
            Per grouping: divide each side's sums by the side's number of (resampled) sessions
            (a share of session attribution) instead of by the group's number of events.

        Returns
        -------
        list of (low, high)
            ``(G,)`` bounds per grouping. NaN when the bootstrap is off, or for a group whose lift
            is undefined (no event on one side) in more than half of the resamples; resamples
            where it is undefined are otherwise ignored.
        """
        per_session = per_session or [False] * len(groupings)

        def lift(totals: np.ndarray, sessions: tuple[np.ndarray, np.ndarray], index: int):
            attr_conv, count_conv, attr_not, count_not = np.split(totals, 4, axis=1)
            if per_session[index]:
                count_conv, count_not = sessions
            return attr_conv / count_conv - attr_not / count_not  # (b, G)

        return self._intervals(groupings, values, lift)

    def mean_intervals(
        self, groupings: Sequence[tuple[np.ndarray, int]], values: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Percentile interval of each group's mean of ``values`` over its events, both sides.

        The same resamples as :meth:`lift_intervals` (same seed), so the intervals of a table's
        lifts and of its mean signed scores describe the same bootstrap.
        """

        def mean(totals: np.ndarray, sessions: tuple[np.ndarray, np.ndarray], index: int):
            attr_conv, count_conv, attr_not, count_not = np.split(totals, 4, axis=1)
            return (attr_conv + attr_not) / (count_conv + count_not)  # (b, G)

        return self._intervals(groupings, values, mean)

    def _intervals(
        self,
        groupings: Sequence[tuple[np.ndarray, int]],
        values: np.ndarray,
        statistic: Callable[[np.ndarray, tuple[np.ndarray, np.ndarray], int], np.ndarray],
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Resample, reduce each grouping's ``(b, 4G)`` sums with ``statistic``, take percentiles.

        ``statistic(totals, (sessions_conv, sessions_not), index)`` gets the resampled sums of
        grouping ``index`` (see :meth:`_group_sums` for the column blocks) and the ``(b, 1)``
        numbers of converted and other sessions drawn, and returns ``(b, G)`` values.
        """
        if self.n_resamples <= 0 or self.n_sessions == 0:
            return [(np.full(size, np.nan), np.full(size, np.nan)) for _, size in groupings]
        values = np.asarray(values, dtype=float)
        sums = [self._group_sums(np.asarray(codes), size, values) for codes, size in groupings]
        draws = [np.empty((self.n_resamples, size)) for _, size in groupings]  # each (B, G)
        start = 0
        for weights in self.weight_blocks():  # (b, S)
            stop = start + weights.shape[0]
            sessions = (
                (weights @ self.session_converted)[:, None],  # (b, 1)
                (weights @ ~self.session_converted)[:, None],  # (b, 1)
            )
            for index, (matrix, drawn) in enumerate(zip(sums, draws, strict=True)):
                if isinstance(matrix, np.ndarray):
                    totals = weights @ matrix  # (b, 4G)
                else:
                    totals = np.asarray(matrix @ weights.T).T  # (b, 4G)
                with np.errstate(divide="ignore", invalid="ignore"):
                    drawn[start:stop] = statistic(totals, sessions, index)
            start = stop
        return [self._percentile_interval(drawn) for drawn in draws]

    def _percentile_interval(self, lifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(G,)`` percentile bounds of ``(B, G)`` resampled values, NaN where most are NaN."""
        low = np.full(lifts.shape[1], np.nan)
        high = np.full(lifts.shape[1], np.nan)
        enough = 2 * np.isfinite(lifts).sum(axis=0) >= self.n_resamples  # (G,)
        if enough.any():
            tail = 50.0 * (1.0 - self.level)
            bounds = np.nanpercentile(lifts[:, enough], [tail, 100.0 - tail], axis=0)  # (2, G')
            low[enough], high[enough] = bounds
        return low, high

    def _group_sums(
        self, group_codes: np.ndarray, n_groups: int, values: np.ndarray
    ) -> sparse.csr_matrix | np.ndarray:
        """Per-session sums of ``values`` and event counts, converted sessions then the others.

        The sums form a sparse ``(4G, S)`` matrix: rows ``0..G-1`` hold values in converted
        sessions, ``G..2G-1`` their counts, ``2G..4G-1`` the same for non-converted sessions. When
        at least an eighth of it is filled (few groups, e.g. event types or position buckets) and
        it is small, its dense transpose ``(S, 4G)`` is returned instead: a BLAS product then beats
        the sparse kernel several times over.
        """
        keep = group_codes >= 0
        groups = group_codes[keep].astype(np.int64)  # (E',)
        sessions = self.session_codes[keep]  # (E',)
        offset = np.where(self.session_converted[sessions], 0, 2 * n_groups)  # (E',)
        rows = np.concatenate([groups + offset, groups + offset + n_groups])  # (2E',)
        data = np.concatenate([values[keep], np.ones(len(groups))])  # (2E',)
        matrix = sparse.csr_matrix(
            (data, (rows, np.concatenate([sessions, sessions]))),
            shape=(4 * n_groups, self.n_sessions),
        )
        cells = 4 * n_groups * self.n_sessions
        if 8 * matrix.nnz >= cells and cells <= _BLOCK_ELEMENTS:
            return matrix.T.toarray()  # (S, 4G)
        return matrix
