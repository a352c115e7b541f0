"""The server race's arithmetic: medians with spread, pair ratios, the load verdict."""

from __future__ import annotations

import math

from benchmarks.race_stats import load_verdict, pair_ratios, percentile, spread


def test_spread_is_the_median_with_its_range_and_leaves_out_failed_figures() -> None:
    """A NaN (a scenario that produced no figure) does not count as a repetition."""
    result = spread([3.0, 1.0, math.nan, 2.0, 10.0])
    assert (result.median, result.low, result.high, result.n) == (2.5, 1.0, 10.0, 4)
    assert result.relative == (10.0 - 1.0) / 2.5


def test_spread_of_nothing_is_nan_with_no_repetitions() -> None:
    """No figures at all gives NaN rather than raising."""
    result = spread([math.nan])
    assert result.n == 0
    assert math.isnan(result.median)
    assert math.isnan(result.relative)


def test_percentile_takes_the_nearest_rank() -> None:
    """p95 of 20 values is the 19th smallest (index round(0.95 * 19) = 18)."""
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.5) == 11.0
    assert math.isnan(percentile([], 0.5))


def test_pair_ratios_pair_repetitions_and_skip_missing_or_zero_figures() -> None:
    """Each repetition's ratio stands alone; a side without a figure drops that pair."""
    assert pair_ratios([2.0, 3.0, math.nan, 4.0], [1.0, 0.0, 5.0, 8.0]) == [2.0, 0.5]


def test_a_quiet_machine_is_not_under_load() -> None:
    """Load average and foreign CPU both under their thresholds."""
    verdict = load_verdict(0.3, [0.05, 0.1, 0.4])
    assert not verdict.under_load
    assert verdict.reasons == ()


def test_a_high_load_average_before_the_start_marks_the_run() -> None:
    """load1 above 0.5 before the start is enough, whatever happened during the run."""
    verdict = load_verdict(1.7, [0.0])
    assert verdict.under_load
    assert "load1 1.70" in verdict.reasons[0]


def test_other_processes_taking_cpu_during_the_run_mark_it() -> None:
    """The median foreign CPU decides; one busy sample alone does not."""
    assert not load_verdict(0.0, [0.0, 0.0, 1.9]).under_load
    verdict = load_verdict(0.0, [0.6, 0.8, 0.1])
    assert verdict.under_load
    assert "0.60 cores" in verdict.reasons[0]
