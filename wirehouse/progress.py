"""Terminal progress for `wirehouse ingest`: a bar fed by the flow's progress records, Prefect's chatter hidden."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

PROGRESS_FIELD = "wirehouse_progress"  # set by pipeline.report.Progress.as_extra()


class _QuietInfo(logging.Filter):
    """Drop INFO and below from the console while the bar shows the run's progress."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


class ProgressBar(logging.Handler):
    """A logging handler that turns the flow's progress records into two bars (feeds, articles)."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__(level=logging.INFO)
        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._feeds = self.progress.add_task("feeds", total=None)
        self._articles = self.progress.add_task("articles", total=None)

    def emit(self, record: logging.LogRecord) -> None:
        """Update the bars from a progress record; other records are ignored."""
        numbers = getattr(record, PROGRESS_FIELD, None)
        if not numbers:
            return
        feeds_done, feeds_total, articles_done, articles_total = numbers
        self.progress.update(self._feeds, completed=feeds_done, total=feeds_total)
        self.progress.update(self._articles, completed=articles_done, total=articles_total or None)


def _console_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("fastapi")]
    return [h for lg in loggers for h in lg.handlers if type(h).__name__ == "PrefectConsoleHandler"]


@contextmanager
def terminal_progress(enabled: bool) -> Iterator[None]:
    """Show a progress bar instead of Prefect's per-task log lines for the duration of the block.

    Args:
        enabled: False (not a terminal) leaves Prefect's plain log lines, progress lines included.

    Yields:
        Nothing.
    """
    if not enabled:
        yield
        return
    import prefect  # noqa: F401 - Prefect configures its console handlers on import

    bar = ProgressBar()
    quiet = _QuietInfo()
    handlers = _console_handlers()
    flow_logger = logging.getLogger("prefect.flow_runs")
    for handler in handlers:
        handler.addFilter(quiet)
    flow_logger.addHandler(bar)
    try:
        with bar.progress:
            yield
    finally:
        flow_logger.removeHandler(bar)
        # The console stays quiet for the rest of this short-lived process: Prefect's own
        # "stopping temporary server" line at exit would otherwise trail the summary.
