"""
The machine's load while a benchmark runs: /proc/stat's CPU busy share, the CPU time of
the benchmark's own processes, and what is left, the CPU that other processes took.

A busy share alone says little during a benchmark (the benchmark itself keeps the cores
busy); the foreign share, total busy CPU minus the CPU of the processes we started and of
ourselves, is what tells whether someone else's work competed with ours.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class CpuTimes:
    """Aggregate CPU counters of /proc/stat's first line, in clock ticks."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> CpuTimes:
    """
    The aggregate ``cpu`` line of /proc/stat: busy = everything but idle and iowait.
    guest and guest_nice are already counted inside user and nice, so they are left out.
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            idle = values[3] + values[4]
            total = sum(values)
            return CpuTimes(busy=total - idle, total=total)
    raise ValueError("no aggregate cpu line in /proc/stat")


def parse_pid_stat(text: str) -> int:
    """utime + stime (clock ticks) from /proc/PID/stat; the command name may hold spaces."""
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def peak_rss_mb(pid: int) -> float:
    """VmHWM of ``pid`` from /proc: its peak resident memory so far, in MB (nan if none)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_ticks(pid: int) -> int:
    """CPU ticks of ``pid`` (all its threads); 0 once it has exited."""
    try:
        return parse_pid_stat(Path(f"/proc/{pid}/stat").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return 0


@dataclasses.dataclass(frozen=True)
class LoadSample:
    """One stretch of the run: how many cores were busy, and how many by other processes."""

    at: float  # time.monotonic() at the stretch's end
    busy_cores: float
    foreign_cores: float
    load1: float


class LoadSampler:
    """
    Samples every ``period_s`` in a daemon thread between ``start()`` and ``stop()``.
    ``ours`` are the processes whose CPU is subtracted (the servers); this process is
    always one of them.
    """

    def __init__(self, ours: list[int], period_s: float = 1.0) -> None:
        self._pids = [os.getpid(), *ours]
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)
        self.samples: list[LoadSample] = []

    def start(self) -> None:
        """Begin sampling."""
        self._thread.start()

    def stop(self) -> list[LoadSample]:
        """Stop and return the samples (none if it never started)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.samples

    def _read(self) -> tuple[CpuTimes, int]:
        return (parse_proc_stat(Path("/proc/stat").read_text()),
                sum(process_ticks(pid) for pid in list(self._pids)))

    def _run(self) -> None:
        cores = os.cpu_count() or 1
        before, ours_before = self._read()
        while not self._stop.wait(self._period_s):
            after, ours_after = self._read()
            total = after.total - before.total
            if total <= 0:
                continue
            busy = (after.busy - before.busy) / total * cores
            # A process that exited between reads makes ours go down: clamp at zero.
            mine = max(0, ours_after - ours_before) / total * cores
            self.samples.append(LoadSample(time.monotonic(), busy,
                                           max(0.0, busy - mine), os.getloadavg()[0]))
            before, ours_before = after, ours_after
