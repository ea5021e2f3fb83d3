"""Progress of an EFP computation: a bar on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def progress_reporter(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A progress bar on a terminal, otherwise a log line about every 10 % of the events."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc=label, unit="event")
        done = [0]

        def update(finished: int) -> None:
            bar.update(finished - done[0])
            done[0] = finished

        return update, bar.close
    step = max(total // 10, 1)
    next_report = [step]
    start = time.perf_counter()

    def report(finished: int) -> None:
        if finished >= next_report[0]:
            elapsed = time.perf_counter() - start
            log.info("%s: %d / %d events (%.0f s)", label, finished, total, elapsed)
            next_report[0] = total + 1 if finished >= total else (finished // step + 1) * step

    return report, lambda: None
