"""return_freed_memory switches Arrow to jemalloc (with a short decay), once per process."""

import subprocess
import sys

import pytest

SCRIPT = """
import pyarrow as pa
from superhero_assets.core.memory import return_freed_memory
before = pa.default_memory_pool().backend_name
return_freed_memory()
return_freed_memory()  # a second call changes nothing
print(before, pa.default_memory_pool().backend_name)
"""


def test_arrow_allocates_from_jemalloc_after_the_first_call():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    before, after = out.stdout.split()
    assert before != "jemalloc" and after == "jemalloc"


GLIBC_SCRIPT = """
import ctypes, sys, threading
from superhero_assets.core.memory import return_freed_memory

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
if sys.argv[1] == "set":
    return_freed_memory()
kept = []
thread = threading.Thread(target=lambda: kept.append(libc.malloc(64 * 1024)))
thread.start()
thread.join()
libc.malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", GLIBC_SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return run.stderr.count("Arena ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_every_thread_allocates_from_the_one_shared_glibc_arena():
    # By default a new thread gets an arena of its own; once set, it shares (the arenas that
    # importing pyarrow made before the setting stay).
    assert _arenas("set") == _arenas("unset") - 1


_BIG_PARENT = """
import subprocess, sys
hold = bytearray(300 * 2**20)
for i in range(0, len(hold), 4096):
    hold[i] = 1  # touched, so resident
child = "from superhero_tools import bench; print(bench.peak_rss_mb())"
run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
print(run.stdout.strip())
"""


def test_a_bench_child_reports_its_own_peak_memory_not_its_parents():
    # Linux copies the parent's peak RSS into a child's ru_maxrss at exec: a bench child
    # measured that way reported the bench's own, larger, memory.
    run = subprocess.run(
        [sys.executable, "-c", _BIG_PARENT], capture_output=True, text=True, check=True
    )
    child_peak = float(run.stdout)
    assert 5 < child_peak < 200
