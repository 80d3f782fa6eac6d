"""One line of progress on a terminal: messages, MB and MB/s, redrawn in place on stderr.

Callers report whole batches (`add`) or a running total (`update_to`), never single
messages, and the line is redrawn at most every REDRAW_S: between redraws a report costs a
clock read and two additions. MB are millions of bytes of message values, as `superhero
bench` counts its bytes. Progress is shown only where a person watches: on a terminal, and
not with --no-progress (see `wanted`), so piped output and logs stay clean.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import pyarrow as pa
import pyarrow.compute as pc

REDRAW_S = 0.25  # a few redraws a second: readable, and cheap beside a batch
CLEAR_TO_END = "\x1b[K"  # erases what a longer, earlier line left on the right


def wanted(no_progress: bool, stream: TextIO | None = None) -> bool:
    """Whether to show progress: on a terminal only, and never with --no-progress."""
    stream = sys.stderr if stream is None else stream
    return not no_progress and stream.isatty()


def value_bytes(batch: pa.Table) -> int:
    """The bytes of a raw batch's message values (an Arrow kernel, not a loop per message)."""
    return pc.sum(pc.binary_length(batch["value"])).as_py() or 0


class ProgressLine:
    """`load: 120,000/1,000,000 messages 12%  24.3 MB/s  50,210 msg/s  58.1 MB  2s`.

    stream None makes every call a no-op, so a caller needs no branch of its own. Used as a
    context manager, it ends its line on exit, also when an error ends the work early, so
    a traceback starts on a line of its own.
    """

    def __init__(self, label: str, stream: TextIO | None, total: int | None = None) -> None:
        self.label, self.stream, self.total = label, stream, total
        self.messages = self.nbytes = 0
        self.started = self._drawn_at = time.monotonic()
        self._drawn_figures: tuple[int, int] | None = None
        self._draw(self.started)  # at once: the first batch may take a while to come

    def add(self, messages: int, nbytes: int) -> None:
        """A batch of messages, and of value bytes, is done."""
        self.update_to(self.messages + messages, self.nbytes + nbytes)

    def update_to(self, messages: int, nbytes: int) -> None:
        """messages and value bytes are done so far, in all."""
        self.messages, self.nbytes = messages, nbytes
        if self.stream is not None and (now := time.monotonic()) - self._drawn_at >= REDRAW_S:
            self._draw(now)

    def finish(self) -> None:
        """Draw the final figures and end the line."""
        if self.stream is not None:
            if self._drawn_figures != (self.messages, self.nbytes):
                self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self.stream = None  # a second finish (an error after it) draws nothing

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finish()

    def text(self, now: float) -> str:
        """The line; the figures that matter most come first, as a narrow terminal cuts it."""
        elapsed = max(now - self.started, 1e-9)
        done = f"{self.messages:,}"
        if self.total:
            done += f"/{self.total:,} messages {min(100, 100 * self.messages // self.total)}%"
        else:
            done += " messages"
        mb = self.nbytes / 1e6
        return (
            f"{self.label}: {done}  {mb / elapsed:,.1f} MB/s  {self.messages / elapsed:,.0f} "
            f"msg/s  {mb:,.1f} MB  {elapsed:.0f}s"
        )

    def _draw(self, now: float) -> None:
        if self.stream is None:
            return
        self._drawn_at, self._drawn_figures = now, (self.messages, self.nbytes)
        width = _columns(self.stream) - 1
        self.stream.write(f"\r{self.text(now)[:width]}{CLEAR_TO_END}")
        self.stream.flush()


def _columns(stream: TextIO) -> int:
    """The width of the stream's own terminal (stdout may be piped while stderr is not).

    A line wider than the terminal wraps, and "\r" would then redraw only its last row.
    """
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):  # not a terminal, or not a real file
        columns = 0
    return columns or 120  # a terminal whose size was never set reports 0


@contextmanager
def step(label: str, stream: TextIO | None) -> Iterator[None]:
    """A phase whose work cannot be counted: its name when it starts, its time when done."""
    if stream is None:
        yield
        return
    started = time.monotonic()
    stream.write(f"{label} ...")
    stream.flush()
    try:
        yield
    finally:  # also on an error, so that a traceback starts on a line of its own
        stream.write(f" {time.monotonic() - started:.1f}s\n")
        stream.flush()
