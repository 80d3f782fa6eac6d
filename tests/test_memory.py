"""return_freed_memory switches Arrow to jemalloc (with a short decay), once per process."""

import subprocess
import sys

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
