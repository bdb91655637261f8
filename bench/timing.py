"""Timing one call many times, shared by the benchmark scripts."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def call_seconds(call: Callable[[], object], calls: int, warm_up: int = 0) -> np.ndarray:
    """Wall seconds of each of `calls` calls, after `warm_up` untimed ones."""
    for _ in range(warm_up):
        call()
    times = np.empty(calls)
    for index in range(calls):
        start = time.perf_counter()
        call()
        times[index] = time.perf_counter() - start
    return times
