"""Prefect flows: wiring only — read settings, call tasks in order, publish artifacts."""

from tasks.settings import apply_prefect_defaults

apply_prefect_defaults()
