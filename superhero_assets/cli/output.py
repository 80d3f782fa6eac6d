"""`superhero output adopt`: bind the Redis offsets to a copied output (see core/run/adopt.py)."""

from __future__ import annotations

import argparse

from superhero_assets.cli import options
from superhero_assets.core.kafka.consume import make_consumer, partitions
from superhero_assets.core.run.adopt import adopt
from superhero_assets.core.run.binding import kafka_cluster_id


def register(sub: argparse._SubParsersAction) -> None:
    output = sub.add_parser("output", help="the output's binding to the Redis offsets")
    actions = output.add_subparsers(dest="action", required=True)
    adopt_cmd = actions.add_parser(
        "adopt",
        help="after copying the output to OUTPUT_FS, bind the Redis offsets to the copy",
    )
    options.add_output_fs(adopt_cmd, "the copy to adopt")
    options.add_topics(adopt_cmd, "the topics whose offsets to bind")
    output.set_defaults(handler=run_output)


def run_output(args: argparse.Namespace, settings) -> int:
    from superhero_assets.core import environment  # the store's clients: only when run

    resources = environment.for_cli(output_fs=args.output_fs)
    store = resources.output.store()
    store.check_writable()
    consumer = make_consumer(resources.kafka.client_config())
    try:
        cluster = kafka_cluster_id(consumer)
        topic_partitions = {t: partitions(consumer, t) for t in args.topics}
    finally:
        consumer.close()
    redis_client = resources.redis_state.client()
    for moved in adopt(redis_client, store, cluster, topic_partitions, ttl_ms=30_000):
        was = moved.before.output_root if moved.before else "nothing"
        print(f"{moved.topic}: offsets now bound to {moved.after.output_root} (were: {was})")
    return 0
