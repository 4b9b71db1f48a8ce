"""Reading documents in a worker process, bounded in memory and time and off the caller's interpreter.

The loaders check their limits while they read (decompressed size, pages, nesting, time), but a parser can
still stall inside one call or allocate far more than a file's size. In a child process a hard wall-clock
limit can kill it and an address-space limit turns a memory bomb into a refusal, and the bot's own process
keeps answering other people meanwhile (parsing is pure Python and would otherwise hold the GIL).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from indexer import loaders

log = logging.getLogger(__name__)
GRACE_SECONDS = 10.0  # beyond the loaders' own time check, before the worker is killed
PARENT_CHECK_SECONDS = 1.0  # how often an idle worker looks whether the process that started it still lives
_lock = threading.Lock()
_pool: cf.ProcessPoolExecutor | None = None
_pool_memory: int | None = None


class Overrun(Exception):
    """The worker ran out of time or memory, or died."""


def _start_worker(memory_bytes: int, parent: int) -> None:
    _limit_memory(memory_bytes)
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once its parent is gone. A parent killed outright (SIGKILL, the OOM killer) never shuts the
    pool down, and the idle worker, which holds both ends of its own call queue, would wait for work for ever."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _limit_memory(memory_bytes: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError) as exc:  # not on this platform: the time limit still holds
        log.warning("worker memory limit not set: %s", exc)


def _pool_for(memory_bytes: int) -> cf.ProcessPoolExecutor:
    """One worker, reused (starting one costs about a second); replaced when its memory limit changes."""
    global _pool, _pool_memory
    with _lock:
        if _pool is None or _pool_memory != memory_bytes:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = cf.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),  # no copy of the caller's threads and model
                initializer=_start_worker,
                initargs=(memory_bytes, os.getpid()),
            )
            _pool_memory = memory_bytes
        return _pool


def _discard(pool: cf.ProcessPoolExecutor) -> None:
    """Kill the worker (stuck or broken): the next call starts a fresh one."""
    global _pool
    with _lock:
        # The executor has no public way to stop a running task: its processes are killed directly.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        if _pool is pool:
            _pool = None


def run(fn, *args, timeout: float, memory_bytes: int):
    """`fn(*args)` in the worker; Overrun when it takes longer than `timeout` or dies (memory, a crash)."""
    pool = _pool_for(memory_bytes)
    try:
        future = pool.submit(fn, *args)
    except BrokenProcessPool:
        _discard(pool)
        pool = _pool_for(memory_bytes)
        future = pool.submit(fn, *args)
    try:
        return future.result(timeout=timeout)
    except cf.TimeoutError as exc:
        _discard(pool)
        raise Overrun("time") from exc
    except BrokenProcessPool as exc:
        _discard(pool)
        raise Overrun("crashed") from exc
    except MemoryError as exc:
        raise Overrun("memory") from exc


def load(path: Path, root: Path, data: bytes | None, limits: loaders.Limits) -> loaders.LoadedDocument:
    """loaders.load in the worker, with a hard time limit and a memory limit; refusals as LoadError."""
    try:
        return run(
            loaders.load,
            path,
            root,
            data,
            limits,
            timeout=limits.max_extract_seconds + GRACE_SECONDS,
            memory_bytes=limits.max_memory_bytes,
        )
    except Overrun as exc:
        if str(exc) == "time":
            seconds = f"{limits.max_extract_seconds:g}"
            raise loaders.LoadError(
                f"reading the file took longer than {seconds} s", "too_slow", seconds=seconds
            ) from exc
        megabytes = f"{limits.max_memory_bytes / loaders.MB:g}"
        raise loaders.LoadError(
            f"reading the file needed more than {megabytes} MB of memory", "too_much_memory", megabytes=megabytes
        ) from exc


def shutdown() -> None:
    """Stop the worker (tests, and a process that ends early)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
