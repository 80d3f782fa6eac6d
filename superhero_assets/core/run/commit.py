"""The atomic commit: advance the README's two keys of each topic, for the run's partitions only.

A shard's run owns some partitions of each topic; others commit theirs at the same time.
One Lua step decodes each topic's two JSON objects, checks the run's fencing token and the
compare-and-set value of every partition it commits, and only when all pass writes those
partitions' entries back, leaving every other entry as it was: all or nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from superhero_assets.core import contract
from superhero_assets.core.run.locks import Tokens, lock_key_of, lock_name
from superhero_assets.core.run.state import StateError


@dataclass(frozen=True)
class PartitionCommit:
    """One partition's entries: the values the run planned from, and the new ones.

    None means "no entry". A whole-topic reset reads as (REPLAY, 0) in every partition.
    """

    partition: int
    expected: tuple[int | None, int | None]  # (last offset, count)
    new: tuple[int | None, int | None]


@dataclass(frozen=True)
class TopicCommit:
    topic: str
    partitions: list[PartitionCommit]
    # Every partition the topic had when the run planned: after a whole-topic reset, the
    # entries of those the run does not own become REPLAY, so their shards still replay.
    known: list[int]


# KEYS: per topic its last_offset, counts and binding keys, then the lock of each partition
# it commits. ARGV[1]: the JSON the function below builds. The entries are re-encoded as
# Python's json.dumps writes them: {"0": 9, "1": 12}, partitions in numeric order.
_COMMIT = """
local spec = cjson.decode(ARGV[1])
local function is_reset(v)
  if type(v) == 'number' then return v < 0 end
  if type(v) ~= 'table' then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == 1 and v[''] == 0
end
local function entries(v)
  -- A JSON object of partition -> integer, which encode() can write back.
  if type(v) ~= 'table' then return false end
  for k, x in pairs(v) do
    if type(k) ~= 'string' or not tonumber(k) or type(x) ~= 'number' then return false end
  end
  return true
end
local function load(key)
  local raw = redis.call('GET', key)
  if not raw then return {}, false, true end
  local ok, v = pcall(cjson.decode, raw)
  if not ok then return nil, false, false end
  if is_reset(v) then return v, true, false end
  if not entries(v) then return nil, false, false end
  return v, false, false
end
local function wanted(v) if v == cjson.null then return nil end return v end
local function encode(t)
  local keys, parts = {}, {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tonumber(a) < tonumber(b) end)
  for i, k in ipairs(keys) do parts[i] = '"' .. k .. '": ' .. string.format('%d', t[k]) end
  return '{' .. table.concat(parts, ', ') .. '}'
end
local loaded = {}
for i, t in ipairs(spec) do
  local last, last_reset, last_missing = load(KEYS[t.keys[1]])
  local counts, counts_reset = load(KEYS[t.keys[2]])
  if last == nil or counts == nil then
    return redis.error_reply('CHANGED ' .. KEYS[t.keys[1]] .. ' (or its counts) is no ' ..
      'longer a JSON object of partitions')
  end
  -- As state.parse_state reads them: without last_offset the topic's keys are missing,
  -- whatever its counts hold (kept for the other partitions, unless a reset value).
  if last_missing then
    if counts_reset then counts = {} end
    counts_reset = false
  end
  if last_reset or counts_reset then
    last, counts = {}, {}
    for _, p in ipairs(t.known) do last[p] = -1; counts[p] = 0 end
  end
  for _, p in ipairs(t.partitions) do
    if redis.call('GET', KEYS[p.lock]) ~= p.token then
      return redis.error_reply('FENCED lock for ' .. KEYS[p.lock] .. ' is no longer held')
    end
    local was_last, was_count = last[p.id], counts[p.id]
    if last_reset or counts_reset then was_last, was_count = -1, 0 end
    if last_missing then was_count = nil end
    if was_last ~= wanted(p.expected[1]) or was_count ~= wanted(p.expected[2]) then
      return redis.error_reply('CHANGED partition ' .. p.id .. ' of ' .. KEYS[t.keys[1]] ..
        ' changed during the run')
    end
  end
  loaded[i] = {last, counts}
end
for i, t in ipairs(spec) do
  local last, counts = loaded[i][1], loaded[i][2]
  for _, p in ipairs(t.partitions) do
    last[p.id] = wanted(p.new[1])
    counts[p.id] = wanted(p.new[2])
  end
  redis.call('SET', KEYS[t.keys[1]], encode(last))
  redis.call('SET', KEYS[t.keys[2]], encode(counts))
  redis.call('SET', KEYS[t.keys[3]], t.binding)
end
return 1
"""


def commit(r: redis.Redis, tokens: Tokens, topics: list[TopicCommit], binding: str) -> None:
    """Write the partitions' new entries in one Lua step, under the fencing tokens.

    binding (core/run/binding.py) records which output and Kafka cluster the offsets are for.
    """
    keys: list[str] = []
    spec = []

    def key_index(key: str) -> int:
        keys.append(key)
        return len(keys)  # Lua counts from 1

    for tc in sorted(topics, key=lambda c: c.topic):
        spec.append(
            {
                "keys": [
                    key_index(contract.last_offset_key(tc.topic)),
                    key_index(contract.counts_key(tc.topic)),
                    key_index(contract.binding_key(tc.topic)),
                ],
                "binding": binding,
                "known": [str(p) for p in sorted(tc.known)],
                "partitions": [
                    {
                        "id": str(pc.partition),
                        "lock": key_index(lock_key_of(lock_name(tc.topic, pc.partition))),
                        "token": tokens[lock_name(tc.topic, pc.partition)],
                        "expected": list(pc.expected),
                        "new": list(pc.new),
                    }
                    for pc in tc.partitions
                ],
            }
        )
    try:
        r.eval(_COMMIT, len(keys), *keys, json.dumps(spec))
    except redis.ResponseError as exc:
        raise StateError(
            f"Offsets not committed: {exc}. Another run or a person changed the state; the "
            "files this run wrote are in the manifest, and the next run continues safely."
        ) from exc
