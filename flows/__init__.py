"""Prefect flows: wiring only — read settings, call tasks in order, publish artifacts."""

from core.settings import prepare_process

# Before the flow modules import prefect: the project's Prefect defaults; fewer malloc arenas for the run.
prepare_process()
