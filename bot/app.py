"""The composition root: settings -> services. Nothing here knows about Telegram."""

from __future__ import annotations

import logging
import os
import threading

from indexer.config import Settings

log = logging.getLogger(__name__)


def build_engine(settings: Settings, embedder=None, composer=None, serving: bool = False):
    """The answer engine over the live index; an LLM composer when LLM_PROVIDER/LLM_MODEL are set.

    `serving`: many users at once (the Telegram bot). The engine is warmed up before it is returned (index
    loaded, every stage run once), the model runs one single-threaded pass per core, and sentence vectors
    for English answers not cached yet are filled in the background (`python -m bot warmup` does it ahead).
    """
    from bot.answering.engine import AnswerEngine
    from indexer.embedding import get_embedder, offline_environment
    from indexer.search import HybridSearcher

    offline_environment()
    searcher = HybridSearcher(settings, embedder or get_embedder(settings))
    if composer is None and settings.llm_enabled:
        from bot.answering.llm import LLMComposer

        composer = LLMComposer.from_settings(settings)
    engine = AnswerEngine(searcher, composer=composer)
    if serving:
        engine.warm_up()
        if embedder is None:  # a caller's own model keeps its threading
            searcher.embedder.serve_concurrently()
        # Between questions, in small batches on one of the model's passes.
        threading.Thread(target=_fill_quietly, args=(engine,), name="sentence-cache", daemon=True).start()
    return engine


def _fill_quietly(engine) -> None:
    try:  # Linux: a thread's own niceness; with one torch thread per pass the work runs on this thread
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
    except (AttributeError, OSError):
        pass
    try:
        engine.fill_sentence_cache(batch=16, when_idle=2.0)  # nothing to do once the cache is complete
    except Exception as exc:  # a cache: English answers embed their own sentences meanwhile
        log.warning("could not fill the sentence-vector cache: %s", exc)
