"""Named points where a test or `superhero chaos` may SIGKILL the run, to prove recovery.

Set SUPERHERO_KILL_AT to one of POINTS; the run kills itself, with no clean-up at all,
the first time it reaches that point. With SUPERHERO_KILL_ONCE set to a file path, only the
first process to create that file dies (a Dagster deployment's first run, not its retry).
Unset (always, in production) it does nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = ("mid_landing", "before_raw", "before_manifest", "before_commit", "after_commit")


def maybe_die(point: str) -> None:
    if os.environ.get("SUPERHERO_KILL_AT") != point:
        return
    once = os.environ.get("SUPERHERO_KILL_ONCE")
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # another process died here already
    os.kill(os.getpid(), signal.SIGKILL)
