"""Progress of an ingest run: a tqdm bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from tqdm import tqdm

logger = logging.getLogger("ingest.progress")


class Progress:
    """Counts handled posters and shows the rate and the time left.

    Args:
        total: Posters to handle, when known (for the ETA).
        bar: Show a tqdm bar; None decides by whether stderr is a terminal.
        log_every_s: Interval of the log lines when there is no bar.
        stored_as: What the log lines call the posters written ("ingested", "captioned").
    """

    def __init__(
        self,
        total: int | None,
        bar: bool | None = None,
        log_every_s: float = 10.0,
        stored_as: str = "ingested",
    ):
        self.total = total
        self.done = 0
        self.ingested = 0
        self._started = time.monotonic()
        self._last_log = self._started
        self._log_every_s = log_every_s
        self._stored_as = stored_as
        use_bar = sys.stderr.isatty() if bar is None else bar
        self._bar: Any = None
        if use_bar:
            self._bar = tqdm(total=total, unit="poster", dynamic_ncols=True, smoothing=0.05)

    def advance(self, handled: int, ingested: int) -> None:
        """Adds handled posters (of any outcome), of which ingested were stored now."""
        self.done += handled
        self.ingested += ingested
        if self._bar is not None:
            self._bar.update(handled)
            return
        now = time.monotonic()
        if now - self._last_log >= self._log_every_s:
            self._last_log = now
            logger.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress as one line of text."""
        elapsed = (now or time.monotonic()) - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"{self.done}"
        if self.total:
            text += f"/{self.total} ({100.0 * self.done / self.total:.1f}%)"
        text += f" posters, {self.ingested} {self._stored_as}, {rate:.1f} posters/s"
        if self.total and rate > 0:
            text += f", ETA {max(0.0, (self.total - self.done) / rate):.0f} s"
        return text

    def close(self) -> None:
        """Ends the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
