"""The pipeline's steps that touch storage: Prefect tasks over tasks/ (pure stages) and warehouse/ (storage)."""
