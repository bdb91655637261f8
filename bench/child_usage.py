"""One command in a fresh process, with what it used: peak memory and CPU are that process's
alone (os.wait4), shared by the benchmark scripts that measure a run per size."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time


@dataclasses.dataclass(frozen=True)
class ChildUsage:
    status: int  # os.wait4's status: 0 when the process exited 0.
    seconds: float  # Wall time.
    peak_rss_mb: float
    cpu_seconds: float  # User plus system.


def run_child(command: list[str]) -> ChildUsage:
    start = time.monotonic()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    return ChildUsage(status, time.monotonic() - start, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
