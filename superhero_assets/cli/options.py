"""Options that several commands share, spelled once: the same flag, default and help everywhere.

Each help ends with its default, and names the environment variable behind it, as every
option of `superhero` does (tests/integration/test_cli_help.py checks).
"""

from __future__ import annotations

import argparse
import os

from superhero_assets.core import contract

DEFAULT_OUTPUT_FS = "./data"


def add_output_fs(parser: argparse.ArgumentParser, what: str) -> None:
    """--output-fs: the output folder or object-store URL; `what` says what it is for here."""
    parser.add_argument(
        "--output-fs",
        default=os.getenv("OUTPUT_FS") or DEFAULT_OUTPUT_FS,
        metavar="PATH_OR_URL",
        help=f"{what}: a folder or an s3://, gs:// or az:// URL "
        f"(default: OUTPUT_FS, else {DEFAULT_OUTPUT_FS})",
    )


def topic_list(text: str) -> tuple[str, ...]:
    """'a,b' as ('a', 'b').

    The names are checked where they are used (the loader, the lag report), whose error
    names both --topics and SUPERHERO_TOPICS: argparse's would blame --topics alone.
    """
    topics = tuple(t.strip() for t in text.split(",") if t.strip())
    if not topics:
        raise argparse.ArgumentTypeError("name at least one topic")
    return topics


def add_topics(parser: argparse.ArgumentParser, what: str) -> None:
    """--topics, parsed into a tuple of names; `what` says what they are for here."""
    default = ",".join(contract.SOURCE_TOPICS)
    parser.add_argument(
        "--topics",
        type=topic_list,
        default=os.getenv("SUPERHERO_TOPICS") or default,
        metavar="TOPICS",
        help=f"{what}, comma-separated, as Dagster reads them "
        f"(default: SUPERHERO_TOPICS, else {default})",
    )


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """--no-progress, for the commands that draw a progress line on a terminal."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress line on stderr (default: shown when stderr is a terminal, "
        "never when it is piped)",
    )
