"""
Pure arithmetic of the server race (benchmarks/server_race.py): medians with their spread
over repetitions, ratios taken pair by pair, and whether a figure was taken under load.

Ratios are medians of per-repetition ratios, not ratios of medians: both sides of one
repetition ran seconds apart, so a drift in the machine's speed cancels within a pair.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

# A machine is "under load" when something other than the race uses the CPU. Before the
# run the 1-minute load average is what there is (0.5: half a core busy on average, the
# level at which 2-thread timings moved by more than the noise); during it, the CPU time of
# other processes is measured directly (the race's own processes are subtracted), so its
# threshold is in cores too.
LOAD1_BEFORE_MAX = 0.5
FOREIGN_CORES_MAX = 0.25


@dataclasses.dataclass(frozen=True)
class Spread:
    """The median of some repetitions' values, with their minimum, maximum and count."""

    median: float
    low: float
    high: float
    n: int

    @property
    def relative(self) -> float:
        """(high - low) / median: 0.1 means the repetitions lie within 10 % of the median."""
        if not self.n or not self.median:
            return math.nan
        return (self.high - self.low) / abs(self.median)


def spread(values: list[float]) -> Spread:
    """The median and range of ``values``; NaN values (a scenario that failed) are left out."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(statistics.median(kept), min(kept), max(kept), len(kept))


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pair_ratios(ours: list[float], theirs: list[float]) -> list[float]:
    """ours[i] / theirs[i] for each repetition where both sides have a non-zero figure."""
    return [a / b for a, b in zip(ours, theirs, strict=True)
            if not (math.isnan(a) or math.isnan(b)) and b]


@dataclasses.dataclass(frozen=True)
class LoadVerdict:
    """Whether a run (or one repetition) was taken on a busy machine, and why."""

    under_load: bool
    reasons: tuple[str, ...]


def load_verdict(load1_before: float, foreign_cores: list[float]) -> LoadVerdict:
    """
    Judge the machine's load: ``load1_before`` is the 1-minute load average at the start,
    ``foreign_cores`` the CPU used by other processes during each sampled stretch, in cores.

    The load average before the start counts only if it is above LOAD1_BEFORE_MAX; the
    foreign CPU during the run counts when its median stretch is above FOREIGN_CORES_MAX.
    A median, not the maximum: one sample catching a short cron job is not load.
    """
    reasons = []
    if load1_before > LOAD1_BEFORE_MAX:
        reasons.append(f"load1 {load1_before:.2f} > {LOAD1_BEFORE_MAX} before the start")
    if foreign_cores:
        during = statistics.median(foreign_cores)
        if during > FOREIGN_CORES_MAX:
            reasons.append(f"other processes used {during:.2f} cores (median) during the run")
    return LoadVerdict(bool(reasons), tuple(reasons))
