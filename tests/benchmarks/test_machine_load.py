"""Parsing /proc for the server race's load sampler."""

from __future__ import annotations

import os
import time

import pytest

from benchmarks.machine_load import (
    LoadSampler,
    parse_pid_stat,
    parse_proc_stat,
    process_ticks,
)

PROC_STAT = """cpu  100 5 50 800 20 3 2 10 7 0
cpu0 50 2 25 400 10 1 1 5 3 0
intr 12345
"""


def test_proc_stat_busy_is_everything_but_idle_and_iowait() -> None:
    """user nice system irq softirq steal are busy; guest (inside user) is not counted twice."""
    times = parse_proc_stat(PROC_STAT)
    assert times.total == 100 + 5 + 50 + 800 + 20 + 3 + 2 + 10
    assert times.busy == times.total - 800 - 20


def test_proc_stat_without_a_cpu_line_is_an_error() -> None:
    """A file of another format is not read as zero load."""
    with pytest.raises(ValueError, match="cpu line"):
        parse_proc_stat("intr 1\n")


def test_pid_stat_reads_utime_and_stime_past_a_name_with_spaces() -> None:
    """The command name is in parentheses and may hold spaces and parentheses."""
    line = "4242 (llama (server) x) S 1 4242 4242 0 -1 4194560 10 0 0 0 123 45 0 0 20 0"
    assert parse_pid_stat(line) == 123 + 45


def test_process_ticks_of_this_process_and_of_a_gone_one() -> None:
    """Our own CPU is readable; a pid that does not exist reads as zero."""
    assert process_ticks(os.getpid()) >= 0
    assert process_ticks(2**22 + 12345) == 0


def test_the_sampler_records_stretches_and_stops() -> None:
    """A short run yields samples with core counts in range."""
    sampler = LoadSampler([], period_s=0.05)
    sampler.start()
    time.sleep(0.3)
    samples = sampler.stop()
    assert samples
    cores = os.cpu_count() or 1
    assert all(0.0 <= s.foreign_cores <= s.busy_cores + 1e-9 <= cores + 1e-9 for s in samples)


def test_stopping_a_sampler_that_never_started_returns_nothing() -> None:
    """A failure before the start must not turn into a second one in the cleanup."""
    assert LoadSampler([]).stop() == []
