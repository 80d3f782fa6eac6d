"""Keep a run's memory to what its batches need, by handing freed memory back to the OS.

A run allocates and frees a batch's worth of memory many times a second on four threads
(reading, two parsers, the writer). By default each allocator keeps what was freed for
reuse: mimalloc (Arrow's default) keeps its pages, and glibc gives each thread its own
arena. Together that held far more than the live batches. So a run:

- allocates Arrow memory from jemalloc, which returns pages unused for 100 ms
  (`_DECAY_MS`) to the OS: a few batches' worth stay for reuse, not the whole run's;
- gives glibc one arena, shared by all threads started after the call.

The alternatives measured (docs/performance.md, "Why the knobs are set so"): returning
every page at once held a little less but cost throughput, much of it page faults and
madvise calls made holding the GIL; a longer decay was a little faster but its peak varied
more; a fixed glibc mmap threshold cost CPU in page faults and held no less memory, since
glibc keeps its own sliding thresholds.
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
