"""The composition root: settings -> services. Nothing here knows about Telegram."""

from __future__ import annotations

from indexer.config import Settings


def build_engine(settings: Settings, embedder=None, composer=None):
    """The answer engine over the live index; an LLM composer when LLM_PROVIDER/LLM_MODEL are set."""
    from bot.answering.engine import AnswerEngine
    from indexer.embedding import get_embedder, offline_environment
    from indexer.search import HybridSearcher

    offline_environment()
    searcher = HybridSearcher(settings, embedder or get_embedder(settings))
    if composer is None and settings.llm_enabled:
        from bot.answering.llm import LLMComposer

        composer = LLMComposer.from_settings(settings)
    return AnswerEngine(searcher, composer=composer)
