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
import ctypes
from superhero_assets.core.memory import return_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
return_freed_memory()
size = 8 * 1024 * 1024
libc.free(libc.malloc(size))  # glibc's own threshold would rise to 8 MiB here
buffer = libc.malloc(size)
print(libc.mallinfo2().hblkhd >= size)  # ... and this one would come from the heap
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings")
def test_big_buffers_are_mapped_on_their_own_so_freeing_them_returns_them():
    out = subprocess.run(
        [sys.executable, "-c", GLIBC_SCRIPT], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True"]


_BIG_PARENT = """
import subprocess, sys
hold = bytearray(300 * 2**20)
for i in range(0, len(hold), 4096):
    hold[i] = 1  # touched, so resident
child = "from superhero_assets import bench; print(bench.peak_rss_mb())"
run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
print(run.stdout.strip())
"""


def test_a_bench_child_reports_its_own_peak_memory_not_its_parents():
    # Linux copies the parent's peak RSS into a child's ru_maxrss at exec: a bench child
    # measured that way reported the bench's own memory (349 MB at 5M instead of ~300).
    run = subprocess.run(
        [sys.executable, "-c", _BIG_PARENT], capture_output=True, text=True, check=True
    )
    child_peak = float(run.stdout)
    assert 5 < child_peak < 200
