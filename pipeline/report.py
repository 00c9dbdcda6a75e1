"""Report: the run summary and the Prefect artifacts that show it in the UI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE as NO_CACHE

from core.records import FeedFetch, IngestSummary
from warehouse.articles import run_breakdown
from warehouse.connection import open_warehouse


def summarize(
    fetches: Sequence[FeedFetch],
    status_counts: Sequence[Mapping[str, int]],
    *,
    run_id: str | None,
    warehouse: str,
    seconds: float,
    phase_seconds: Mapping[str, float] | None = None,
    recheck_counts: Sequence[Mapping[str, int]] = (),
) -> IngestSummary:
    """Add up a run's feed fetches and loaded batches.

    Args:
        fetches: One record per feed.
        status_counts: Per batch, articles stored by ``extraction_status``.
        run_id: The flow run.
        warehouse: The warehouse path.
        seconds: Wall time of the run.
        phase_seconds: Wall time of the run's phases (feeds, articles).
        recheck_counts: Per re-check batch, its counts (re-checked, unchanged, revisions, ...).

    Returns:
        The summary.
    """
    statuses: Counter[str] = Counter()
    for counts in status_counts:
        statuses.update(counts)
    rechecks: Counter[str] = Counter()
    for counts in recheck_counts:
        rechecks.update(counts)
    failures: Counter[str] = Counter(f"feed:{f.error_reason or 'error'}" for f in fetches if f.error)
    failures.update({f"article:{status}": n for status, n in statuses.items() if status != "ok"})
    return IngestSummary(
        run_id=run_id,
        warehouse=warehouse,
        feeds=len(fetches),
        feeds_failed=sum(1 for f in fetches if f.error),
        entries_seen=sum(f.entries_seen for f in fetches),
        new_entries=sum(f.new_entries for f in fetches),
        articles_by_status=dict(sorted(statuses.items())),
        failures_by_reason=dict(sorted(failures.items())),
        seconds=round(seconds, 2),
        phase_seconds={k: round(v, 2) for k, v in (phase_seconds or {}).items()},
        batches=len(status_counts),
        rechecks={name: rechecks[name] for name in sorted(rechecks)},
    )


def feed_rows(fetches: Sequence[FeedFetch]) -> list[dict[str, Any]]:
    """One row per feed for the run's table artifact."""
    return [
        {
            "feed": f.feed_url,
            "http_status": f.http_status,
            "entries_seen": f.entries_seen,
            "new_entries": f.new_entries,
            "error": f.error or "",
        }
        for f in fetches
    ]


# What this run stored, for the markdown report (values as parameters).


def breakdown_markdown(breakdown: Mapping[str, Sequence[Sequence[Any]]]) -> str:
    """Render what a run stored: articles by language and by source, and its wire-copy story groups.

    Args:
        breakdown: Rows of each breakdown (see warehouse.articles.run_breakdown).

    Returns:
        Markdown tables (empty string when there is nothing to show).
    """
    parts = []
    for name, header in (("language", "| language | articles |"), ("source", "| source | articles |")):
        rows = breakdown.get(name) or []
        if rows:
            parts += ["", header, "|---|---|", *(f"| {r[0] or '?'} | {r[1]} |" for r in rows)]
    kinds = breakdown.get("page_type") or []
    if kinds:
        parts += ["", "| page type | articles | low confidence |", "|---|---|---|"]
        parts += [f"| {r[0] or '?'} | {r[1]} | {r[2]} |" for r in kinds]
    stories = breakdown.get("stories") or []
    if stories:
        parts += ["", "| story (wire copies) | outlets | articles |", "|---|---|---|"]
        parts += [f"| {str(r[0] or '?').replace('|', '/')} | {r[1]} | {r[2]} |" for r in stories]
    return "\n".join(parts) + ("\n" if parts else "")


def summary_markdown(summary: IngestSummary) -> str:
    """Render the summary as the run's markdown artifact."""
    lines = [
        "# wirehouse ingest",
        "",
        f"- warehouse: `{summary.warehouse}`",
        f"- feeds fetched: {summary.feeds - summary.feeds_failed} of {summary.feeds}",
        f"- entries seen: {summary.entries_seen}, new: {summary.new_entries}",
        f"- wall time: {summary.seconds:.1f} s"
        + "".join(f", {phase} {secs:.1f} s" for phase, secs in summary.phase_seconds.items()),
        "",
        *(
            [
                f"- re-checks: {summary.rechecks.get('rechecked', 0)}, revisions: {summary.rechecks.get('revisions', 0)}, "
                f"corrections: {summary.rechecks.get('corrections', 0)}, removed: {summary.rechecks.get('removed', 0)}",
                "",
            ]
            if summary.rechecks.get("rechecked")
            else []
        ),
        "| articles by extraction status | count |",
        "|---|---|",
        *(f"| {status} | {n} |" for status, n in summary.articles_by_status.items()),
        "",
        "| failures by reason | count |",
        "|---|---|",
        *(f"| {reason} | {n} |" for reason, n in summary.failures_by_reason.items()),
    ]
    return "\n".join(lines) + "\n"


def summary_line(summary: IngestSummary) -> str:
    """The run summary in one line: the flow run's final state message in the Prefect UI."""
    stored = sum(summary.articles_by_status.values())
    failures = ", ".join(f"{k} {v}" for k, v in summary.failures_by_reason.items()) or "none"
    line = (
        f"feeds {summary.feeds - summary.feeds_failed}/{summary.feeds}, "
        f"articles {summary.new_entries} new / {stored} stored, failures: {failures}"
    )
    return line + (f"; {recheck_line(summary)}" if summary.rechecks.get("rechecked") else "")


def recheck_line(summary: IngestSummary) -> str:
    """What the run's re-checks of stored articles found, in one line."""
    counts = summary.rechecks
    return (
        f"re-checks: {counts.get('rechecked', 0)} made, {counts.get('revisions', 0)} revisions "
        f"({counts.get('corrections', 0)} corrections), {counts.get('removed', 0)} removed, "
        f"{counts.get('unchanged', 0)} unchanged"
    )


def summary_lines(summary: IngestSummary) -> list[str]:
    """The short plain-text summary printed by the CLI."""
    stored = sum(summary.articles_by_status.values())
    ok = summary.articles_by_status.get("ok", 0)
    lines = [
        f"feeds: {summary.feeds - summary.feeds_failed} fetched, {summary.feeds_failed} failed",
        f"entries: {summary.entries_seen} seen, {summary.new_entries} new",
        f"articles stored: {stored} ({ok} extracted, {stored - ok} from the feed entry only)",
    ]
    if summary.rechecks.get("rechecked"):
        lines.append(recheck_line(summary))
    if summary.failures_by_reason:
        lines.append("failures: " + ", ".join(f"{k} {v}" for k, v in summary.failures_by_reason.items()))
    lines.append(f"warehouse: {summary.warehouse} ({summary.seconds:.1f} s)")
    return lines


# --------------------------------------------------------------------------- Prefect tasks


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(summary: IngestSummary, fetches: list[FeedFetch], path: Path) -> None:
    """Publish the run's keyed artifacts: a feed table, a failure table and a markdown report.

    Args:
        summary: The run summary.
        fetches: One record per feed.
        path: The warehouse, its catalog path or address (for articles by language and source, and story groups).
    """
    # Read-write like the run's other tasks: DuckDB refuses two configurations of one database in a process.
    with open_warehouse(path) as con:
        breakdown = run_breakdown(con, summary.run_id)
    create_table_artifact(key="ingest-feeds", table=feed_rows(fetches), description="Feeds of this run")
    create_table_artifact(
        key="ingest-failures",
        table=[{"reason": k, "count": v} for k, v in summary.failures_by_reason.items()]
        or [{"reason": "none", "count": 0}],
        description="Failures by reason",
    )
    create_markdown_artifact(
        key="ingest-summary",
        markdown=summary_markdown(summary) + breakdown_markdown(breakdown),
        description="Run summary",
    )
