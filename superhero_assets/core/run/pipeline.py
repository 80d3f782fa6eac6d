"""One batch run, in the order that makes it exactly-once (the README's "Guarantees").

prepare (lock, plan or redo) -> land (raw, tables, etl_meta) -> commit (manifest, then Redis).
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
from superhero_assets.core.kafka.consume import make_consumer, make_source, partitions, read_chunk
from superhero_assets.core.memory import return_freed_memory
from superhero_assets.core.names import validate_topic
from superhero_assets.core.parse.tables import connect, parse_batch
from superhero_assets.core.run import binding, heartbeat, locks, manifest, state
from superhero_assets.core.run.commit import PartitionCommit, TopicCommit, commit
from superhero_assets.core.run.pending_run import PendingRun, PerPartition
from superhero_assets.core.run.plan import Chunk, Plan
from superhero_assets.core.run.planner import new_plan, plan_is_committed
from superhero_assets.core.run.shard import Shard
from superhero_assets.core.store.chunk_files import (
    ChunkFiles,
    TableStats,
    for_each,
    gc_paused,
    landed,
)
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
    shard: Shard = Shard()  # which partitions this run loads (core/run/shard.py): all of them

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
    # Called with each raw batch land reads from Kafka, on the reading thread, for a
    # progress display: it must be quick and must not keep the batch (memory follows it).
    on_batch_read: Callable[[pa.Table], None] | None = None
    _duckdb: dict = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _known: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)

    # 1-3: lock, state, plan (or the pending plan of a run that died)
    def prepare(self, run_id: str = "") -> PendingRun | None:
        """Lock this shard's partitions and record the plan; None when there is nothing to load.

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
        r = self.redis_client
        mine = self._partitions_of_shard(consumer)
        tokens, pendings = self._take_locks(mine)
        try:
            topics = sorted(set(self.config.topics) | {t for t, _ in _names(tokens)})
            states = {t: state.read_state(r, t) for t in topics}
            # ...and checked again under the locks (another output's run may have committed
            # in between); a new output gets its identity only here, so two first runs
            # cannot give it two.
            here = binding.Binding(
                binding.comparable_root(self.store),
                binding.ensure_output_id(self.store, r=r),
                cluster_id,
            )
            binding.refuse_foreign_state(
                states, binding.read_bindings(r, tuple(topics)), here, self._head_offsets(topics)
            )
            # A partition whose plan is pending is redone before anyone plans it anew.
            for pending in pendings:
                plan = pending.plan
                if plan_is_committed(plan, states):
                    self.log.info("run %s was committed before it could clean up", plan.etl_id)
                    manifest.clear_pending(self.store, pending)
                elif any(state.replaying(states[t], p) for t, p in pending.partitions()):
                    self.log.warning(
                        "a reset arrived after run %s died: dropping its files", plan.etl_id
                    )
                    self._drop_files(plan)
                    manifest.clear_pending(self.store, pending)
                else:
                    self.log.info("redoing run %s with its recorded plan", plan.etl_id)
                    pending = pending.redone_by(tokens, _raw(states), run_id, here.to_json())
                    manifest.write_pending(self.store, pending)
                    return pending
            by_topic = {t: sorted(p for tt, p in mine if tt == t) for t in self.config.topics}
            plan, prior = new_plan(consumer, self.store, states, by_topic, self.config, self.log)
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
                known=self._known,
                shard=str(self.config.shard),
            )
            manifest.write_pending(self.store, pending)
            return pending
        except BaseException:
            self._release(tokens)
            raise

    @property
    def _orphans_too(self) -> bool:
        """Shard 1 also redoes a dead run's plan over topics no longer loaded."""
        return self.config.shard.index == 1

    def _partitions_of_shard(self, consumer) -> set[tuple[str, int]]:
        """This shard's topic-partitions, from the cluster's metadata now."""
        self._known = {t: partitions(consumer, t) for t in self.config.topics}
        shard = self.config.shard
        return {(t, p) for t, ps in self._known.items() for p in ps if shard.owns(p)}

    def _take_locks(self, mine: set[tuple[str, int]]) -> tuple[locks.Tokens, list[PendingRun]]:
        """Lock this shard's partitions and those of every pending plan over any of them.

        The plans are read before the locks, to know what to lock, and again under them: a
        plan that changed in between (another run redid it, or left a new one) means trying
        again.
        """
        ttl_ms = self.config.lock_ttl_s * 1000
        for _ in range(_LOCK_ATTEMPTS):
            wanted, _ = _pending_over(self.store, mine, self._orphans_too)
            tokens = locks.acquire_locks(self.redis_client, wanted, ttl_ms)
            if self.config.heartbeat:
                heartbeat.keep_locks(self.redis_client, tokens, ttl_ms)
            covered, pendings = _pending_over(self.store, mine, self._orphans_too)
            if covered <= wanted:
                return tokens, pendings
            self._release(tokens)
        raise state.StateError(
            f"The pending plans over shard {self.config.shard}'s partitions changed each time "
            "it took its locks (other runs are redoing them): run it again."
        )

    # 4: landing: raw_messages, the five tables and quarantine, then etl_meta
    def land(self, pending: PendingRun) -> dict[str, TableStats]:
        """Land every planned chunk, one consume() batch at a time: each batch's raw messages
        and the tables parsed from it, then the run's etl_meta row.

        Returns what the plan wrote to each table (raw_messages and contract.TABLES). A
        worker thread writes batch b while the next is read, so memory holds a few batches,
        never a whole chunk. A chunk an attempt that died landed already is neither read nor
        parsed again: its files' footers say what it holds.
        """
        plan = pending.plan
        if self.config.return_memory:
            return_freed_memory()
        stats = {name: TableStats() for name in ("raw_messages", *contract.TABLES)}

        def count(written: dict[str, TableStats]) -> None:
            for name, table in written.items():
                stats[name] += table

        try:
            self._keep_locks(pending)
            before = landed(self.store, plan.chunks, plan.etl_id)
            todo = [chunk for chunk, done in zip(plan.chunks, before, strict=True) if done is None]
            for done in before:
                if done is not None:
                    count(done)
            if todo:
                self._land_chunks(pending, todo, count)
            count(self._write_etl_meta(pending))
        except BaseException:
            self._release(pending.tokens)
            raise
        finally:
            self._close_duckdb()
        return stats

    def _land_chunks(
        self,
        pending: PendingRun,
        chunks: list[Chunk],
        count: Callable[[dict[str, TableStats]], None],
    ) -> None:
        plan = pending.plan
        source = make_source(self.kafka_config, sorted({c.topic for c in chunks}))
        in_flight: deque[Future] = deque()  # batches being added (and local chunks closing)
        uploading: deque[Future] = deque()  # chunks whose files go to an object store

        def settle(queue: deque[Future], until: int) -> None:
            while len(queue) > until:
                written = queue.popleft().result()
                if written is not None:  # a chunk's files are durable
                    count(written)
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
                for chunk in chunks:
                    self._keep_locks(pending)
                    files, adds = ChunkFiles(self.store, chunk, plan.etl_id), []
                    with gc_paused():  # 100k message objects at a time make the GC thrash
                        for batch in read_chunk(source, chunk, self.config.batch_messages):
                            if self.on_batch_read is not None:
                                self.on_batch_read(batch)
                            # Two batches are parsed at once; the writers add them in order.
                            parsed = parsers.submit(self._parse, plan.etl_id, batch)
                            adds.append(worker.submit(self._add_parsed, files, parsed, _RAW))
                            adds.append(deriver.submit(self._add_parsed, files, parsed, _DERIVED))
                            in_flight.extend(adds[-2:])
                            del batch, parsed
                            settle(in_flight, until=self.config.batches_in_flight * 2)
                    if self.store.is_local:
                        in_flight.append(worker.submit(self._close_landed, files, adds))
                    else:
                        uploading.append(uploader.submit(self._close_landed, files, adds))
                        settle(uploading, until=2)
                    settle(in_flight, until=self.config.batches_in_flight)
                settle(in_flight, until=0)
                settle(uploading, until=0)
        except BaseException:
            for future in (*in_flight, *uploading):
                future.cancel()
            raise
        finally:
            source.close()

    def _parse(self, etl_id: str, raw: pa.Table) -> dict[str, pa.Table]:
        return {"raw_messages": raw, **parse_batch(raw, etl_id, self._connection())}

    @staticmethod
    def _add_parsed(files: ChunkFiles, parsed: Future, names: frozenset[str]) -> None:
        files.add_all({n: t for n, t in parsed.result().items() if n in names})

    @staticmethod
    def _close_landed(files: ChunkFiles, adds: list[Future]) -> dict[str, TableStats]:
        # Every batch of the chunk was added (or failed) by now, or is being added by the
        # other writer: wait for all. A failed one must leave no raw file: a retry reads
        # again any chunk whose raw file (written last) is missing or names another plan.
        for add in adds:
            add.result()
        return files.close(["raw_messages", *contract.CHUNKED_TABLES])

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

    def _write_etl_meta(self, pending: PendingRun) -> dict[str, TableStats]:
        """The run's one etl_meta row, last: rewritten whole by a redone plan."""
        plan = pending.plan
        started = time.perf_counter()
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
        size = self.store.write_parquet(f"etl_meta/{plan.etl_id}.parquet", etl_meta)
        return {"etl_meta": TableStats(1, size, 1, time.perf_counter() - started)}

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
                offsets.setdefault(rng.topic, {})
                counts.setdefault(rng.topic, {})
                if rng.size or rng.gap:
                    offsets[rng.topic][rng.partition] = rng.end
                counts[rng.topic][rng.partition] = counts[rng.topic].get(
                    rng.partition, 0
                ) + read.get((rng.topic, rng.partition), 0)
            entry = {
                "run_id": pending.run_id,
                "shard": pending.shard,
                **plan.to_json(),
                "finished_at": _now_ms(),
                "offsets_after": offsets,
                "counts_after": counts,
                "messages": {f"{t}:{p}": n for (t, p), n in sorted(read.items())},
            }
            faults.maybe_die("before_manifest")
            manifest.append_run(self.store, entry)
            faults.maybe_die("before_commit")
            commit(
                self.redis_client,
                pending.tokens,
                _topic_commits(pending, offsets, counts),
                pending.binding,
            )
            faults.maybe_die("after_commit")
            manifest.clear_pending(self.store, pending)
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

    def _head_offsets(self, topics: list[str]) -> dict[str, dict[int, int]]:
        head = manifest.read_head(self.store)
        return {t: manifest.head_offsets(head, t) for t in topics}

    def _release(self, tokens: dict[str, str]) -> None:
        heartbeat.release_locks(self.redis_client, tokens)

    def _keep_locks(self, pending: PendingRun) -> None:
        """Refresh the locks now, and from a heartbeat thread from now on (a phase may run in
        a process of its own); raise if they were lost."""
        if self.config.heartbeat:
            heartbeat.keep_locks(self.redis_client, pending.tokens, self.config.lock_ttl_s * 1000)
        if not locks.refresh_locks(
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


_LOCK_ATTEMPTS = 3


def _names(tokens: locks.Tokens) -> list[tuple[str, int]]:
    return [locks.split_name(n) for n in tokens]


def _pending_over(
    store: OutputStore, mine: set[tuple[str, int]], orphans: bool
) -> tuple[set[tuple[str, int]], list[PendingRun]]:
    """The pending plans over any of these partitions (with orphans, also those over no
    topic of mine: SUPERHERO_TOPICS changed), and every partition they and these cover
    together (pending plans never share a partition)."""
    topics = {t for t, _ in mine}

    def over(pending: PendingRun) -> bool:
        parts = pending.partitions()
        return bool(parts & mine) or (orphans and not {t for t, _ in parts} & topics)

    pendings = [p for p in manifest.read_pendings(store) if over(p)]
    covered = set(mine).union(*(p.partitions() for p in pendings))
    return covered, pendings


def _topic_commits(
    pending: PendingRun, offsets: PerPartition, counts: PerPartition
) -> list[TopicCommit]:
    """Each partition of the plan: the entries it was planned from, and its new ones."""
    commits = []
    for topic in sorted({r.topic for r in pending.plan.ranges}):
        before = state.parse_state(topic, *pending.expected[topic])
        commits.append(
            TopicCommit(
                topic,
                [
                    PartitionCommit(
                        p,
                        state.partition_value(before, p),
                        (offsets[topic].get(p), counts[topic].get(p)),
                    )
                    for p in sorted({r.partition for r in pending.plan.ranges if r.topic == topic})
                ],
                pending.known_partitions(topic),
            )
        )
    return commits


def _raw(states: dict[str, state.TopicState]) -> dict[str, list[str | None]]:
    return {t: [s.raw_last_offset, s.raw_counts] for t, s in states.items()}


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
