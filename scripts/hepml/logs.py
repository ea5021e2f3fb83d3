"""Log set-up of a rule's job: everything the job says goes to the rule's log file.

Every rule script calls :func:`log_to` first, with ``snakemake.log[0]``.  From then on

- Python logging (INFO and above) is appended to the log with a time stamp;
- the job's standard output and standard error (file descriptors 1 and 2) are the log too, so
  what libraries print on their own (TensorFlow's C++ start-up lines such as "failed call to
  cuInit" or the oneDNN notices, absl, Keras, warnings) lands there instead of the terminal,
  where Snakemake's progress is what the user reads;
- an uncaught exception is logged with its traceback, so a failed job, local or on SLURM, has
  its reason in ``logs/`` (Snakemake prints the log of a failed job with ``show-failed-logs``).

- a record logged with ``extra=TERMINAL`` (a warning the user must see while the workflow runs,
  e.g. a download trusted without a pinned digest) also goes to the job's original standard
  error, which Snakemake shows in the terminal (or the cluster job's output), as well as to the
  log.

Progress bars are drawn only on a terminal (``sys.stderr.isatty()``), so inside a rule they give
way to the periodic progress lines of the log.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# ``log.warning(..., extra=TERMINAL)``: the record reaches the terminal as well as the log.
TERMINAL = {"terminal": True}


def log_to(path: str | os.PathLike) -> None:
    """Send this process's logging, stdout, stderr and uncaught exceptions to ``path``.

    path: the rule's log file (created with its folder; appended to).  Call it once, first,
    before importing anything heavy (TensorFlow writes its start-up lines when imported).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w", buffering=1)  # the original stderr, kept for TERMINAL
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
    finally:
        os.close(descriptor)
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(logging.Formatter(FORMAT))
    shown = logging.StreamHandler(terminal)
    shown.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    shown.addFilter(lambda record: bool(getattr(record, "terminal", False)))
    root = logging.getLogger()
    root.addHandler(handler)
    root.addHandler(shown)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(exc_type, exc, traceback) -> None:
    """sys.excepthook: the exception and its traceback as one ERROR record of the log."""
    logging.getLogger("hepml").error(
        "uncaught %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, traceback)
    )
    logging.shutdown()


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """threading.excepthook: as :func:`_log_uncaught`, naming the thread."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("hepml").error(
        "uncaught %s in thread %s: %s",
        args.exc_type.__name__,
        name,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
