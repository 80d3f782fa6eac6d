"""Keep a run's memory to what its batches need, by handing freed memory back to the OS.

A run allocates and frees a batch's worth of memory many times a second on four threads
(reading, two parsers, the writer). By default each allocator keeps what was freed for
reuse: mimalloc (Arrow's default) keeps its pages, and glibc gives each thread its own
arena of up to 64 MB. Together that held ~200 MB more than the live batches. So a run:

- allocates Arrow memory from jemalloc, which returns pages unused for 100 ms
  (`_DECAY_MS`) to the OS: a few batches' worth stay for reuse, not the whole run's;
- gives glibc one arena, shared by all threads started after the call.

Measured at 1M and 5M messages: a decay of 0 (every page returned at once) held ~25 MB
less but cost 5-10% of the throughput, much of it page faults and madvise calls made
holding the GIL; 1 s was a little faster than 100 ms but its peak varied more (up to
+15%). Fixing glibc's mmap threshold at 1 MiB, so that big buffers are unmapped when freed,
cost ~5% CPU in page faults and held no less memory at 1M or 5M: glibc keeps its own
sliding thresholds.
LoaderConfig.return_memory turns both settings off. They are per process and harmless to
everything else in it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

import pyarrow as pa

# glibc's mallopt parameter numbers
_M_ARENA_MAX = -8
_DECAY_MS = 100
_done = False
log = logging.getLogger("superhero.elt")


def return_freed_memory() -> None:
    """Apply both settings once per process; where one is unavailable, say so and go on."""
    global _done
    if _done:
        return
    _done = True
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(_DECAY_MS)
    except NotImplementedError:  # pyarrow built without jemalloc (e.g. on Windows)
        log.info("pyarrow has no jemalloc here; Arrow keeps its default allocator")
    if sys.platform.startswith("linux"):
        libc_name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(libc_name) if libc_name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(_M_ARENA_MAX, 1)
