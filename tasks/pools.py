"""The run's CPU pool: local worker processes (tasks.cpu) or an existing Dask cluster (tasks.cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tasks.cluster import DaskPool
from tasks.cpu import LazyProcessPool, worker_count


@contextmanager
def cpu_pool(workers: int, dask_address: str = "") -> Iterator[LazyProcessPool | DaskPool]:
    """The run's CPU stage: local worker processes, or the Dask cluster at ``dask_address``.

    Local workers are spawned (forking a process with Prefect's threads is unsafe).

    Args:
        workers: Number of local processes (0: one per core).
        dask_address: A running Dask scheduler (``tcp://host:8786``); empty for the local pool.

    Yields:
        The pool; no local process starts before the first job or :meth:`LazyProcessPool.warm`; it is
        shut down (or the cluster disconnected) when the block ends.

    Raises:
        tasks.cluster.DaskSchedulerError: The scheduler cannot be reached.
    """
    pool: LazyProcessPool | DaskPool = (
        DaskPool(dask_address) if dask_address else LazyProcessPool(worker_count(workers))
    )
    try:
        yield pool
    except KeyboardInterrupt:
        # Ctrl-C: drop the queued jobs instead of working through them before the run can end.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown()
