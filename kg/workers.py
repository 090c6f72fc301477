"""Worker processes for the bulk commands (``fairkg register`` with many cards, ``fairkg assess --all``).

Processes, not threads: card parsing, record building and SHACL validation are pure Python and hold the GIL.
They are started with ``spawn`` (a fresh interpreter): forking a process whose store runs RocksDB threads is unsafe.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

#: below this many items, starting worker processes (~1 s: a fresh interpreter importing fairkg) costs more than
#: they save
MIN_FOR_WORKERS = 200


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers(n_items: int) -> int:
    """Worker processes for ``n_items``: one per usable CPU from :data:`MIN_FOR_WORKERS` items, else none (0)."""
    return usable_cpus() if n_items >= MIN_FOR_WORKERS else 0


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh processes."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
