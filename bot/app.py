"""The composition root: settings -> services. Nothing here knows about Telegram."""

from __future__ import annotations

from indexer.config import Settings


def build_engine(settings: Settings, embedder=None, composer=None, serving: bool = False):
    """The answer engine over the live index; an LLM composer when LLM_PROVIDER/LLM_MODEL are set.

    `serving`: many users at once (the Telegram bot). The engine is warmed up before it is returned (index
    loaded, sentence vectors filled, every stage run once), then the model runs one single-threaded pass
    per core.
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
    return engine
