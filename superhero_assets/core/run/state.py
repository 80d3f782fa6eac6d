"""Offset state in Redis: the README's keys, per-topic locks with fencing, and the atomic commit."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from superhero_assets.core import contract

MISSING = "\x00missing"  # stands for "key absent" in compare-and-set arguments


class StateError(RuntimeError):
    """The offset state is unusable or was changed under a run; the message says what to do."""


@dataclass(frozen=True)
class TopicState:
    topic: str
    status: str  # "ok", "reset" (the README's reset values) or "missing" (keys gone)
    last_offset: dict[int, int]
    counts: dict[int, int]
    raw_last_offset: str | None
    raw_counts: str | None


def _is_reset(value: object) -> bool:
    return isinstance(value, int) and value < 0 or value == {"": 0}


def parse_state(topic: str, raw_last: str | None, raw_counts: str | None) -> TopicState:
    """Interpret the two keys; pure, so every reading of them is tested without Redis."""
    if raw_last is None:
        return TopicState(topic, "missing", {}, {}, raw_last, raw_counts)
    try:
        last = json.loads(raw_last)
        counts = json.loads(raw_counts) if raw_counts is not None else {}
    except ValueError:
        raise StateError(_bad(topic, "is not JSON")) from None
    if _is_reset(last) or _is_reset(counts):
        return TopicState(topic, "reset", {}, {}, raw_last, raw_counts)
    if not isinstance(last, dict) or not isinstance(counts, dict):
        raise StateError(_bad(topic, "is not a JSON object keyed by partition"))
    try:
        offsets = {int(p): int(o) for p, o in last.items()}
        totals = {int(p): int(c) for p, c in counts.items()}
    except (TypeError, ValueError):
        raise StateError(_bad(topic, "has a partition or offset that is not a number")) from None
    return TopicState(topic, "ok", offsets, totals, raw_last, raw_counts)


def _bad(topic: str, what: str) -> str:
    return (
        f"Redis key {contract.last_offset_key(topic)} (or its counts) {what}. To load the topic "
        f'again from the start, run: SET {contract.counts_key(topic)} "{{\\"\\": 0}}" and '
        f"SET {contract.last_offset_key(topic)} -1"
    )


def read_state(r: redis.Redis, topic: str) -> TopicState:
    raw_last, raw_counts = r.mget(contract.last_offset_key(topic), contract.counts_key(topic))
    return parse_state(
        topic,
        raw_last.decode() if raw_last is not None else None,
        raw_counts.decode() if raw_counts is not None else None,
    )


def encode_offsets(values: dict[int, int]) -> str:
    return json.dumps({str(p): values[p] for p in sorted(values)})


_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then redis.call('DEL', key) end
end
return 1
"""

_REFRESH = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) ~= ARGV[i] then return 0 end
end
for i, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[#KEYS + 1]) end
return 1
"""

# Per topic: KEYS lock, last_offset, counts, binding; ARGV token, expected last, expected
# counts, new last, new counts, new binding. Every check passes before anything is written:
# all or nothing.
_COMMIT = """
local missing = ARGV[#ARGV]
for t = 0, #KEYS / 4 - 1 do
  local k, a = t * 4, t * 6
  if redis.call('GET', KEYS[k + 1]) ~= ARGV[a + 1] then
    return redis.error_reply('FENCED lock for ' .. KEYS[k + 1] .. ' is no longer held')
  end
  for j = 2, 3 do
    local current = redis.call('GET', KEYS[k + j]) or missing
    if current ~= ARGV[a + j] then
      return redis.error_reply('CHANGED ' .. KEYS[k + j] .. ' changed during the run')
    end
  end
end
for t = 0, #KEYS / 4 - 1 do
  local k, a = t * 4, t * 6
  redis.call('SET', KEYS[k + 2], ARGV[a + 4])
  redis.call('SET', KEYS[k + 3], ARGV[a + 5])
  redis.call('SET', KEYS[k + 4], ARGV[a + 6])
end
return 1
"""


def acquire_locks(r: redis.Redis, topics: list[str], ttl_ms: int) -> dict[str, str]:
    """Lock every topic (in sorted order, so two runs never deadlock) or none of them."""
    tokens: dict[str, str] = {}
    for topic in sorted(topics):
        token = str(r.incr(contract.fence_key(topic)))
        if not r.set(contract.lock_key(topic), token, nx=True, px=ttl_ms):
            release_locks(r, tokens)
            holder = r.get(contract.lock_key(topic))
            ttl = r.pttl(contract.lock_key(topic))
            raise StateError(
                f"Another run holds the lock on {topic} (fencing token "
                f"{holder.decode() if holder else '?'}, expires in {max(ttl, 0) / 1000:.0f}s). "
                "Wait for it to finish; a run that died releases it when the lock expires."
            )
        tokens[topic] = token
    return tokens


def refresh_locks(r: redis.Redis, tokens: dict[str, str], ttl_ms: int) -> bool:
    keys = [contract.lock_key(t) for t in tokens]
    return bool(r.eval(_REFRESH, len(keys), *keys, *tokens.values(), ttl_ms))


def release_locks(r: redis.Redis, tokens: dict[str, str]) -> None:
    if tokens:
        keys = [contract.lock_key(t) for t in tokens]
        r.eval(_RELEASE, len(keys), *keys, *tokens.values())


def commit(
    r: redis.Redis,
    tokens: dict[str, str],
    expected: dict[str, TopicState],
    new_offsets: dict[str, dict[int, int]],
    new_counts: dict[str, dict[int, int]],
    binding: str,
) -> None:
    """Advance last_offset and counts of every topic in one Lua step, under the fencing tokens.

    binding (core/run/binding.py) records which output and Kafka cluster the offsets are for.
    """
    keys: list[str] = []
    args: list[str] = []
    for topic in sorted(new_offsets):
        before = expected[topic]
        keys += [
            contract.lock_key(topic),
            contract.last_offset_key(topic),
            contract.counts_key(topic),
            contract.binding_key(topic),
        ]
        args += [
            tokens[topic],
            MISSING if before.raw_last_offset is None else before.raw_last_offset,
            MISSING if before.raw_counts is None else before.raw_counts,
            encode_offsets(new_offsets[topic]),
            encode_offsets(new_counts[topic]),
            binding,
        ]
    try:
        r.eval(_COMMIT, len(keys), *keys, *args, MISSING)
    except redis.ResponseError as exc:
        raise StateError(
            f"Offsets not committed: {exc}. Another run or a person changed the state; the "
            "files this run wrote are in the manifest, and the next run continues safely."
        ) from exc
