"""The main job end to end. Until the batch ELT lands: start the stack and round-trip a message."""

from __future__ import annotations

import time
import uuid

from superhero_assets.core.contract import PROBE_TOPIC
from superhero_assets.core.settings import Settings
from superhero_assets.stack import StackError, kafka, manager, redis_server


def run_demo(settings: Settings) -> int:
    statuses = manager.up(settings)
    for st in statuses:
        print(st.line())
    # The probe topic, not the game topics: the demo must not put junk into the real stream.
    t0 = time.monotonic()
    offset = kafka.round_trip(settings, topic=PROBE_TOPIC)
    print(
        f"kafka: produced and consumed back a message on {PROBE_TOPIC} (offset {offset}) "
        f"in {1000 * (time.monotonic() - t0):.0f} ms"
    )
    key, token = f"superhero.demo.{uuid.uuid4().hex}", uuid.uuid4().hex
    r = redis_server.client(settings)
    r.set(key, token, ex=60)
    if r.get(key) != token.encode():
        raise StackError(
            f"Redis at {settings.redis_host}:{settings.redis_port} did not return "
            "the value just written"
        )
    r.delete(key)
    print(f"redis: wrote and read back a key on {settings.redis_host}:{settings.redis_port}")
    print("broker ready, redis ready. Stop the stack with `superhero stack down`.")
    return 0
