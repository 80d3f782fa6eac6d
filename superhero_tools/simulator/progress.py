"""A progress bar on stderr (tqdm), quiet when disabled."""

from __future__ import annotations

from tqdm import tqdm


class Progress:
    """Tracks an absolute count; update_to(n) moves the bar to n."""

    def __init__(self, total: int, enabled: bool = True):
        self.bar = tqdm(
            total=total,
            unit="msg",
            unit_scale=True,
            disable=not enabled,
            mininterval=0.5,
            smoothing=0.1,
        )

    def update_to(self, count: int) -> None:
        self.bar.update(count - self.bar.n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()
