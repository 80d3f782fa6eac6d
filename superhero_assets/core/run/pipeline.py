"""One batch run, in the order that makes it exactly-once (the README's "Guarantees").

prepare (lock, plan or redo) -> land_raw -> derive_tables -> commit (manifest, then Redis).
Each phase reads what it needs from the pending plan in the store, so the phases may run in
separate processes (Dagster steps) and a run that died is redone with the same plan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import redis

from superhero_assets.core import contract, faults
from superhero_assets.core.kafka.consume import make_consumer, make_source, read_chunk
from superhero_assets.core.memory import return_freed_memory
from superhero_assets.core.names import validate_topic
from superhero_assets.core.parse.tables import connect, parse_batch
from superhero_assets.core.run import binding, heartbeat, manifest, state
from superhero_assets.core.run.pending_run import PendingRun
from superhero_assets.core.run.plan import Chunk, Plan
from superhero_assets.core.run.planner import new_plan, plan_is_committed
from superhero_assets.core.store.chunk_files import ChunkFiles, for_each, gc_paused, landed
from superhero_assets.core.store.output_store import OutputStore

_RAW = frozenset({"raw_messages"})
_DERIVED = frozenset(contract.CHUNKED_TABLES)


@dataclass(frozen=True)
class LoaderConfig:
    topics: tuple[str, ...] = contract.SOURCE_TOPICS
    chunk_messages: int = 100_000  # offsets per file: bounds the memory of every phase
    # Messages per read. Each batch is parsed and written while the next ones are read,
    # so memory follows this, not the backlog. Larger batches were no faster with the
    # native reader and peaked higher (docs/performance.md, "Why the knobs are set so").
    batch_messages: int = 10_000
    parse_threads: int = 2  # batches parsed at once
    # Parsed batches waiting for the writers, besides the one being read: more were no
    # faster and peaked higher (the same section).
    batches_in_flight: int = 1
    return_memory: bool = True  # hand freed memory back to the OS (see core/memory.py)
    # A crashed run's locks expire after this; a live run's heartbeat refreshes them every
    # third of it (core/run/heartbeat.py).
    lock_ttl_s: int = 30
    heartbeat: bool = True  # off only in tests that imitate a frozen process
    # Parse each batch while landing it, and let derive_tables skip the chunks derived so:
    # those of this Loader, and those record_derived noted in the pending plan (Dagster's
    # tables step runs with a Loader of its own).
    derive_while_landing: bool = True

    def __post_init__(self) -> None:
        for topic in self.topics:
            validate_topic(topic)


@dataclass
class Loader:
    kafka_config: dict[str, Any]
    redis_client: redis.Redis
    store: OutputStore
    config: LoaderConfig = field(default_factory=LoaderConfig)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("superhero.elt"))
    # Called with each raw batch land_raw reads from Kafka, on the reading thread, for a
    # progress display: it must be quick and must not keep the batch (memory follows it).
    on_batch_read: Callable[[pa.Table], None] | None = None
    # Chunks this Loader derived while landing them: (etl_id, chunk) -> {table: (rows, bytes)}
    _derived: dict = field(default_factory=dict, init=False, repr=False)
    _duckdb: dict = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # 1-3: lock, state, plan (or the pending plan of a run that died)
    def prepare(self, run_id: str = "") -> PendingRun | None:
        """Lock the topics and record the plan; None when there is nothing to load.

        run_id names the caller (a Dagster run), so later phases can tell their plan apart.
        """
        # A wrong credential or a missing bucket fails here, naming the variable to fix,
        # before any lock, read or commit.
        self.store.check_writable()
        consumer = make_consumer(self.kafka_config)
        try:
            # Before any lock or read: a foreign state is refused at once...
            seen = binding.check_output(self.redis_client, self.store, consumer, self.config.topics)
            return self._lock_and_plan(consumer, seen.kafka_cluster_id, run_id)
        finally:
            consumer.close()

    def _lock_and_plan(self, consumer, cluster_id: str, run_id: str) -> PendingRun | None:
        r, ttl_ms = self.redis_client, self.config.lock_ttl_s * 1000
        tokens = state.acquire_locks(r, list(self.config.topics), ttl_ms)
        if self.config.heartbeat:
            heartbeat.keep_locks(r, tokens, ttl_ms)
        try:
            states = {t: state.read_state(r, t) for t in self.config.topics}
            # ...and checked again under the locks (another output's run may have committed
            # in between); a new output gets its identity only here, so two first runs
            # cannot give it two.
            here = binding.Binding(
                binding.comparable_root(self.store),
                binding.ensure_output_id(self.store),
                cluster_id,
            )
            binding.refuse_foreign_state(
                states, binding.read_bindings(r, self.config.topics), here, self._head_offsets()
            )
            pending = manifest.read_pending(self.store)
            if pending is not None:
                plan = pending.plan
                if plan_is_committed(plan, states):
                    self.log.info("run %s was committed before it could clean up", plan.etl_id)
                    manifest.clear_pending(self.store)
                elif any(s.status == "reset" for s in states.values()):
                    self.log.warning(
                        "a reset arrived after run %s died: dropping its files", plan.etl_id
                    )
                    self._drop_files(plan)
                    manifest.clear_pending(self.store)
                else:
                    self.log.info("redoing run %s with its recorded plan", plan.etl_id)
                    pending = pending.redone_by(tokens, _raw(states), run_id, here.to_json())
                    manifest.write_pending(self.store, pending)
                    return pending
            plan, prior = new_plan(consumer, self.store, states, self.config, self.log)
            if plan.is_empty:
                if written := binding.write_back(r, tokens, states, prior, here):
                    self.log.info("wrote the offsets of %s back to Redis", ", ".join(written))
                self._release(tokens)
                return None
            pending = PendingRun(
                plan=plan,
                tokens=tokens,
                expected=_raw(states),
                prior=prior,
                started_at=_now_ms(),
                run_id=run_id,
                binding=here.to_json(),
            )
            manifest.write_pending(self.store, pending)
            return pending
        except BaseException:
            self._release(tokens)
            raise

    # 4: raw landing
    def land_raw(self, pending: PendingRun) -> dict[str, int]:
        """Land every planned chunk, one consume() batch at a time.

        A worker thread writes (and, with derive_while_landing, parses) batch b while the
        next is read, so memory holds a few batches, never a whole chunk.
        """
        plan = pending.plan
        derive = self.config.derive_while_landing
        if self.config.return_memory:
            return_freed_memory()
        stats = {"messages": 0, "bytes": 0, "files": 0}
        try:
            source = make_source(self.kafka_config, sorted({c.topic for c in plan.chunks}))
        except BaseException:
            self._release(pending.tokens)
            raise
        in_flight: deque[Future] = deque()  # batches being added (and local chunks closing)
        uploading: deque[Future] = deque()  # chunks whose files go to an object store

        def settle(queue: deque[Future], until: int) -> None:
            while len(queue) > until:
                landed = queue.popleft().result()
                if landed is not None:  # a chunk's files are durable
                    rows, size, _ = landed
                    stats["bytes"] += size
                    stats["messages"] += rows
                    stats["files"] += 1
                    faults.maybe_die("mid_landing")

        try:
            with (
                # Two writers, each adding its tables' batches in order: the raw messages,
                # and the derived tables (Parquet encoding releases the GIL, so they overlap).
                ThreadPoolExecutor(1, thread_name_prefix="superhero-land") as worker,
                ThreadPoolExecutor(1, thread_name_prefix="superhero-derive") as deriver,
                # On an object store, uploading a chunk's files overlaps the reading of the
                # next chunk (at most two chunks wait). On a local disk they are written in
                # the raw writer's turn, as batches are: letting their fsyncs run on while
                # the next chunk was read stalled a new partition's first fetch (the broker
                # shares the disk; tests/integration/test_chaos.py's short lock TTL caught it).
                ThreadPoolExecutor(1, thread_name_prefix="superhero-upload") as uploader,
                ThreadPoolExecutor(
                    self.config.parse_threads, thread_name_prefix="superhero-parse"
                ) as parsers,
            ):
                for chunk, done in zip(plan.chunks, landed(self.store, plan.chunks), strict=True):
                    self._keep_locks(pending)
                    if done:
                        continue  # landed by the attempt that died: files are all-or-nothing
                    files, adds = ChunkFiles(self.store, chunk), []
                    with gc_paused():  # 100k message objects at a time make the GC thrash
                        for batch in read_chunk(source, chunk, self.config.batch_messages):
                            if self.on_batch_read is not None:
                                self.on_batch_read(batch)
                            # Two batches are parsed at once; the writers add them in order.
                            parsed = parsers.submit(self._parse, plan.etl_id, batch, derive)
                            adds.append(worker.submit(self._add_parsed, files, parsed, _RAW))
                            if derive:
                                adds.append(
                                    deriver.submit(self._add_parsed, files, parsed, _DERIVED)
                                )
                            in_flight.extend(adds[-2:] if derive else adds[-1:])
                            del batch, parsed
                            settle(in_flight, until=self.config.batches_in_flight * (1 + derive))
                    if self.store.is_local:
                        close = worker.submit(self._close_landed, files, plan.etl_id, derive, adds)
                        in_flight.append(close)
                    else:
                        close = uploader.submit(
                            self._close_landed, files, plan.etl_id, derive, adds
                        )
                        uploading.append(close)
                        settle(uploading, until=2)
                    settle(in_flight, until=self.config.batches_in_flight)
                settle(in_flight, until=0)
                settle(uploading, until=0)
        except BaseException:
            for future in (*in_flight, *uploading):
                future.cancel()
            self._release(pending.tokens)
            raise
        finally:
            source.close()
            self._close_duckdb()  # derive_tables opens its own if it needs them
        return stats

    def record_derived(self, pending: PendingRun) -> PendingRun:
        """Note in the pending plan the chunks whose tables this Loader wrote while landing.

        derive_tables in another process (Dagster's next step) then takes them as they are
        instead of reading their raw files again.
        """
        plan = pending.plan
        try:
            # Only the lock holder may write the pending plan: one whose lock expired
            # meanwhile would overwrite the plan of the run that took over.
            self._keep_locks(pending)
            pending = pending.with_derived(
                {
                    chunk.stem: {table: list(files) for table, files in written.items()}
                    for chunk in plan.chunks
                    if (written := self._derived.get((plan.etl_id, chunk))) is not None
                }
            )
            manifest.write_pending(self.store, pending)
        except BaseException:
            self._release(pending.tokens)
            raise
        return pending

    def _parse(self, etl_id: str, raw: pa.Table, derive: bool) -> dict[str, pa.Table]:
        tables = parse_batch(raw, etl_id, self._connection()) if derive else {}
        return {"raw_messages": raw, **tables}

    @staticmethod
    def _add_parsed(files: ChunkFiles, parsed: Future, names: frozenset[str]) -> None:
        files.add_all({n: t for n, t in parsed.result().items() if n in names})

    def _close_landed(
        self, files: ChunkFiles, etl_id: str, derive: bool, adds: list[Future]
    ) -> tuple[int, int, float]:
        # Every batch of the chunk was added (or failed) by now, or is being added by the
        # other writer: wait for all. A failed one must leave no file: a retry skips any
        # chunk whose raw file exists.
        for add in adds:
            add.result()
        written = files.close(["raw_messages", *(contract.CHUNKED_TABLES if derive else ())])
        raw = written.pop("raw_messages")
        if derive:
            self._derived[(etl_id, files.chunk)] = written
        return raw

    def _connection(self):
        """This thread's cursor on the Loader's one DuckDB database.

        Parsing runs on parse_threads at once; cursors share one database, so one buffer
        pool and one set of worker threads, where a database per thread doubled both.
        """
        with self._lock:
            con = self._duckdb.get(threading.get_ident())
            if con is None:
                if "database" not in self._duckdb:
                    self._duckdb["database"] = connect(threads=1)
                con = self._duckdb[threading.get_ident()] = self._duckdb["database"].cursor()
            return con

    # 4 (continued): the typed tables and quarantine, one file per chunk and table
    def derive_tables(self, pending: PendingRun) -> dict[str, dict[str, float]]:
        """Each table's files of the plan; {table: rows, bytes, files and the seconds spent
        encoding and writing them}, also for chunks derived while landing."""
        plan = pending.plan
        stats = {t: {"rows": 0, "bytes": 0, "files": 0, "seconds": 0.0} for t in contract.TABLES}
        if self.config.return_memory:
            return_freed_memory()
        recorded = pending.derived  # see record_derived
        try:
            self._keep_locks(pending)  # even when every chunk was derived while landing
            for chunk in plan.chunks:
                if chunk.stem in recorded:  # {table: [rows, bytes]}
                    self._derived.setdefault((plan.etl_id, chunk), recorded[chunk.stem])
                if (plan.etl_id, chunk) in self._derived:
                    continue  # derived while landing, for this same plan
                self._keep_locks(pending)
                files = ChunkFiles(self.store, chunk)
                with self.store.fs.open(self.store.path(chunk.relpath("raw_messages")), "rb") as fh:
                    for batch in pq.ParquetFile(fh).iter_batches(self.config.batch_messages):
                        raw = pa.Table.from_batches([batch])
                        files.add_all(parse_batch(raw, plan.etl_id, self._connection()))
                self._derived[(plan.etl_id, chunk)] = files.close(contract.CHUNKED_TABLES)
            for chunk in plan.chunks:
                # [rows, bytes, seconds]; a plan recorded before seconds were kept has two,
                # and then the table's time is unknown (NaN), not a smaller figure.
                for name, (rows, size, *spent) in self._derived.pop((plan.etl_id, chunk)).items():
                    stats[name]["bytes"] += size
                    stats[name]["rows"] += rows
                    stats[name]["files"] += 1
                    stats[name]["seconds"] += spent[0] if spent else float("nan")
            etl_meta_started = time.perf_counter()
            etl_meta = pa.table(
                {
                    "etl_id": [plan.etl_id],
                    "service": ["Kafka"],
                    "mode": ["Batch"],
                    "timestamp_start": [pending.started_at],
                    "timestamp_end": [_now_ms()],
                },
                schema=pa.schema(
                    [
                        (f.name, pa.int64() if f.type == contract.TS_MS else f.type)
                        for f in contract.ETL_META
                    ]
                ),
            ).cast(contract.ETL_META)
            stats["etl_meta"]["bytes"] += self.store.write_parquet(
                f"etl_meta/{plan.etl_id}.parquet", etl_meta
            )
            stats["etl_meta"].update(
                rows=1, files=1, seconds=time.perf_counter() - etl_meta_started
            )
        except BaseException:
            self._release(pending.tokens)
            raise
        finally:
            self._close_duckdb()
        return stats

    def _close_duckdb(self) -> None:
        with self._lock:
            for con in reversed(self._duckdb.values()):  # cursors, then their database
                con.close()
            self._duckdb.clear()

    # 5-6: manifest, then Redis, then release
    def commit(self, pending: PendingRun) -> dict[str, Any]:
        plan = pending.plan
        try:
            read = self._messages_per_partition(plan)
            offsets = {t: dict(v) for t, v in pending.prior.offsets.items()}
            counts = {t: dict(v) for t, v in pending.prior.counts.items()}
            for rng in plan.ranges:
                if rng.size or rng.gap:
                    offsets[rng.topic][rng.partition] = rng.end
                counts[rng.topic][rng.partition] = counts[rng.topic].get(
                    rng.partition, 0
                ) + read.get((rng.topic, rng.partition), 0)
            entry = {
                "run_id": pending.run_id,
                **plan.to_json(),
                "finished_at": _now_ms(),
                "offsets_after": offsets,
                "counts_after": counts,
                "messages": {f"{t}:{p}": n for (t, p), n in sorted(read.items())},
            }
            head = {"seq": plan.seq, "etl_id": plan.etl_id, "offsets": offsets, "counts": counts}
            faults.maybe_die("before_manifest")
            manifest.append_run(self.store, entry, head)
            faults.maybe_die("before_commit")
            expected = {t: state.parse_state(t, *pending.expected[t]) for t in self.config.topics}
            state.commit(
                self.redis_client, pending.tokens, expected, offsets, counts, pending.binding
            )
            faults.maybe_die("after_commit")
            manifest.clear_pending(self.store)
            return entry
        finally:
            self._release(pending.tokens)

    def _messages_per_partition(self, plan: Plan) -> dict[tuple[str, int], int]:
        def rows(chunk: Chunk) -> int:
            with self.store.fs.open(self.store.path(chunk.relpath("raw_messages")), "rb") as fh:
                return pq.ParquetFile(fh).metadata.num_rows

        read: dict[tuple[str, int], int] = {}
        for chunk, n in zip(plan.chunks, for_each(self.store, rows, plan.chunks), strict=True):
            key = (chunk.topic, chunk.partition)
            read[key] = read.get(key, 0) + n
        return read

    def _head_offsets(self) -> dict[str, dict[int, int]]:
        head = manifest.read_head(self.store)
        return {t: manifest.head_offsets(head, t) for t in self.config.topics}

    def _release(self, tokens: dict[str, str]) -> None:
        heartbeat.release_locks(self.redis_client, tokens)

    def _keep_locks(self, pending: PendingRun) -> None:
        """Refresh the locks now, and from a heartbeat thread from now on (a phase may run in
        a process of its own); raise if they were lost."""
        if self.config.heartbeat:
            heartbeat.keep_locks(self.redis_client, pending.tokens, self.config.lock_ttl_s * 1000)
        if not state.refresh_locks(
            self.redis_client, pending.tokens, self.config.lock_ttl_s * 1000
        ):
            raise state.StateError(
                "This run lost its lock (it expired or another run took it over); stopping "
                "before writing more. Raise lock_ttl_s if runs take longer than it."
            )

    def _drop_files(self, plan: Plan) -> None:
        for chunk in plan.chunks:
            for table in ("raw_messages", *contract.CHUNKED_TABLES):
                self.store.delete(chunk.relpath(table))
        self.store.delete(f"etl_meta/{plan.etl_id}.parquet")


def _raw(states: dict[str, state.TopicState]) -> dict[str, list[str | None]]:
    return {t: [s.raw_last_offset, s.raw_counts] for t, s in states.items()}


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
