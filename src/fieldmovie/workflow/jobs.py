"""Support for rule scripts: logging (and Python warnings) into the job's log file, clean
exit on SIGTERM, clearing what a killed predecessor left next to the outputs."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ..movie.atomic import clear_stale_temporaries

__all__ = ["job_logging"]


def _terminate(signum: int, frame: object) -> None:
    # Snakemake ends jobs with SIGTERM: turn it into an exception so that writers remove
    # their temporary files and no FFmpeg process is orphaned
    raise SystemExit(f"terminated by signal {signum}")


@contextmanager
def job_logging(
    log_path: str | None,
    level: int = logging.INFO,
    outputs: Iterable[str | os.PathLike] = (),
) -> Iterator[logging.Logger]:
    """Log to the job's log file (and stderr); log any exception with its traceback.

    ``outputs`` (the job's output files) are cleared of the temporary files a killed
    predecessor of this job left next to them; the job owns its outputs, so no live writer
    can be using them.
    """
    signal.signal(signal.SIGTERM, _terminate)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    # warnings (clipping, fallbacks) go to the job's log too, not only to the terminal
    logging.captureWarnings(True)
    logger = logging.getLogger("fieldmovie.job")
    try:
        for stale in clear_stale_temporaries(*outputs):
            logger.info("removed %s, left by an interrupted job", stale)
        yield logger
    except BaseException as exc:
        logger.error("job failed: %s", exc, exc_info=not isinstance(exc, SystemExit))
        raise
    finally:
        logging.captureWarnings(False)
        logging.shutdown()
