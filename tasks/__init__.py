"""Tasks: one module per concern; pure functions first, thin Prefect task wrappers last."""
