"""The single-file DuckDB warehouse of older versions: its migrations, applied before it is converted."""
