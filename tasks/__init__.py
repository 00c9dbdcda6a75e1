"""Tasks: one module per concern; pure functions first, thin Prefect task wrappers last."""

from tasks.settings import apply_prefect_defaults, limit_malloc_arenas

# Before anything imports prefect: the project's own Prefect defaults (clean, complete temporary server).
apply_prefect_defaults()
# Before the run starts its threads: fewer malloc arenas, flatter memory.
limit_malloc_arenas()
