"""`superhero bench`: the loader's throughput against the raw consumer ceiling, on one backlog.

1. Produce N records with the bulk simulator into fresh benchmark topics.
2. Ceiling: a bare confluent-kafka `consume(num_messages=...)` loop over the whole backlog
   that only counts messages and bytes. Best of two passes: before the product run with the
   loader's consumer settings, after it with the big read-ahead the loader used before, so
   neither a cold page cache nor the loader's own settings can lower the bar.
3. Product: one full run (`Loader`: lock, plan, raw landing, the five tables, quarantine,
   manifest, Redis commit) from a fresh offset state, then a run with nothing to do; and,
   separately, the one-shot `dagster asset materialize` CLI on the same backlog.
4. The same at `--scale` x N, for the change in peak RSS.

Every measured phase runs in its own child process (`measure.py`, started through
`__main__.py`), which reports its own wall time, CPU time (all threads) and peak RSS (its
own VmHWM, not ru_maxrss: `peak_rss_mb`), so the parent's memory never counts. The
benchmark never touches the real topics, their Redis keys or the real output: its topics
are `bench-{tag}.lib.server.*`, its output a fresh folder (under --output-fs if given).
"""

from superhero_tools.bench.backlog import cleanup
from superhero_tools.bench.cli import register
from superhero_tools.bench.measure import peak_rss_mb
from superhero_tools.bench.run import RESULT_KEYS, run_bench, run_once

__all__ = ["RESULT_KEYS", "cleanup", "peak_rss_mb", "register", "run_bench", "run_once"]
