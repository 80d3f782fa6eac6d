"""Heartbeats: a live run keeps its partition locks (and says it is alive) from a background thread.

Locks expire after a short TTL, so a run that crashed frees its topics within that TTL. A
live run must never lose them while it works, also in long steps that do not pass through
the loader (Parquet writes, asset checks, Dagster's own bookkeeping between steps). So a
thread refreshes them every third of the TTL for as long as the process holds them. When
the process dies, the thread dies with it, and the locks expire. The fencing tokens still
keep a run that lost its locks anyway (a frozen process) from committing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from superhero_assets.core import contract
from superhero_assets.core.run import locks, manifest
from superhero_assets.core.store.output_store import OutputStore

_log = logging.getLogger(__name__)
RUN_SEEN_S = 7 * 24 * 3600
# A process that has made no progress for this many lock TTLs is hung: its heartbeats stop,
# so its locks expire and the lag sensor fails its run, as if it had died.
HUNG_AFTER_TTLS = 20
_last_progress = time.monotonic()


def progress() -> None:
    """The run moved on (a batch read, a chunk written): its heartbeats may go on."""
    global _last_progress
    _last_progress = time.monotonic()


def _alive(ttl_ms: int) -> bool:
    quiet_s = time.monotonic() - _last_progress
    if quiet_s < HUNG_AFTER_TTLS * ttl_ms / 1000:
        return True
    _log.warning("no progress for %.0fs: letting this run's locks expire", quiet_s)
    return False


_beating: dict[str, _Heartbeat] = {}
_registry_lock = threading.Lock()


class _Heartbeat(threading.Thread):
    """Calls beat() every interval_s until stopped, or until beat() returns False."""

    def __init__(self, name: str, beat: Callable[[], bool], interval_s: float) -> None:
        super().__init__(name=f"superhero-heartbeat-{name}", daemon=True)
        self._beat, self._interval_s = beat, interval_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            try:
                if not self._beat():
                    return  # the locks were lost: nothing left to keep
            except redis.RedisError as exc:  # try again next beat; the TTL leaves room for two
                _log.warning("heartbeat %s could not reach Redis: %s", self.name, exc)

    def stop(self) -> None:
        self._stopped.set()


def _start(name: str, beat: Callable[[], bool], ttl_ms: int) -> None:
    with _registry_lock:
        running = _beating.get(name)
        if running is not None and running.is_alive():
            return
        _beating[name] = _Heartbeat(name, beat, interval_s=ttl_ms / 3000)
        _beating[name].start()


def _stop(name: str) -> None:
    with _registry_lock:
        running = _beating.pop(name, None)
    if running is not None:
        running.stop()


def _locks_name(tokens: dict[str, str]) -> str:
    return "locks:" + ",".join(f"{t}={tokens[t]}" for t in sorted(tokens))


def keep_locks(r: redis.Redis, tokens: dict[str, str], ttl_ms: int) -> None:
    """Refresh the locks every ttl/3 from now on, until release_locks (or the process ends)."""
    progress()
    if tokens:
        _start(
            _locks_name(tokens),
            lambda: _alive(ttl_ms) and locks.refresh_locks(r, tokens, ttl_ms),
            ttl_ms,
        )


def release_locks(r: redis.Redis, tokens: dict[str, str]) -> None:
    """Stop refreshing the locks, then release them (only those still holding our tokens)."""
    _stop(_locks_name(tokens))
    locks.release_locks(r, tokens)


def announce_run(r: redis.Redis, run_id: str, ttl_ms: int) -> None:
    """Keep `{run_id} is alive` in Redis while this process lives (see run_is_alive)."""
    key = contract.run_alive_key(run_id)
    progress()
    r.set(contract.run_seen_key(run_id), "1", ex=RUN_SEEN_S)
    r.set(key, "1", px=ttl_ms)
    _start(f"run:{run_id}", lambda: _alive(ttl_ms) and bool(r.set(key, "1", px=ttl_ms)), ttl_ms)


def end_run(run_id: str) -> None:
    """The run's last step is done: stop announcing it. The key expires a TTL later, by
    when Dagster has recorded the run's end (deleting it now could make it look dead)."""
    _stop(f"run:{run_id}")


def run_is_alive(r: redis.Redis, run_id: str) -> bool:
    """Whether the run's process has announced itself within the last TTL."""
    return bool(r.exists(contract.run_alive_key(run_id)))


def run_was_seen(r: redis.Redis, run_id: str) -> bool:
    """Whether the run ever announced itself, i.e. it ran the ELT (for a week after)."""
    return bool(r.exists(contract.run_seen_key(run_id)))


def release_locks_of_run(r: redis.Redis, store: OutputStore, run_id: str) -> list[str]:
    """Give back the partition locks of a run that failed or died, if it still holds them.

    Its plan stays pending: the next run redoes it. Returns the locks released.
    """
    pending = manifest.read_pending(store, run_id)
    if pending is None or pending.run_id != run_id:
        return []
    locks.release_locks(r, pending.tokens)  # only locks that still hold its tokens
    return sorted(pending.tokens)
