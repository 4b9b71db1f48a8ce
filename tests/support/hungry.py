"""Stand-ins for hostile parsers, importable by the reading worker's process (indexer/worker.py)."""

import time


def allocate(megabytes: int) -> int:
    """Allocate `megabytes` in 1 MB pieces, as a decompression bomb does inside a parser."""
    held = [bytearray(1024 * 1024) for _ in range(megabytes)]
    return len(held)


def hang(seconds: float) -> None:
    """A parser stuck inside one call, where the loaders' own time checks never run."""
    time.sleep(seconds)
