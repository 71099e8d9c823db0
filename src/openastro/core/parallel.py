"""Map a function over jobs in worker processes, in order, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any


def parallel_map(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int = 0, label: str = "work",
                 progress: bool = False, chunksize: int = 4) -> list[Any]:
    """[fn(job) for job in jobs] over `workers` spawned processes (0: one per core; 1 or few jobs: in this one)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from openastro.core.progress import progress_bar

    workers = workers or os.cpu_count() or 1
    out: list[Any] = []
    with progress_bar(label, total=len(jobs) if progress else 0) as bar:
        if workers == 1 or len(jobs) < 2 * chunksize:
            for job in jobs:
                out.append(fn(job))
                bar.advance()
            return out
        # spawn, not fork: workers must not inherit threads (torch, DuckDB) from the parent
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for item in pool.map(fn, jobs, chunksize=chunksize):
                out.append(item)
                bar.advance()
    return out
