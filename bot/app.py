"""The composition root: settings -> services. Nothing here knows about Telegram.

`build_services` is the only place that constructs the bot's services; the Telegram application, the
console, the command line and the benchmarks all receive the same `Services`.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.handoff.service import HandoffService
from bot.needs.rules import load as load_rules
from bot.needs.service import NeedsService
from bot.storage import Store

if TYPE_CHECKING:
    from bot.answering.engine import AnswerEngine
    from bot.answers.curation import Curation
    from bot.answers.service import AnswerService
    from bot.knowledge_admin import KnowledgeAdmin
    from bot.web.logins import Logins
    from indexer.embedding import SentenceTransformerEmbedder

log = logging.getLogger(__name__)


class Services:
    """The bot's services, built once. The answer engine (and its model) loads on first use, so commands that
    only read the database (reports, consultants) start at once."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: SentenceTransformerEmbedder | None = None,
        composer: object | None = None,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        rules = load_rules(settings.needs_rules_file)  # a broken rules file stops the start before anything opens
        self.store = Store(settings.sqlalchemy_url)
        self.handoff = HandoffService(settings, self.store)
        self.needs = NeedsService(settings, self.store, self.handoff, rules)
        self._embedder = embedder
        self._composer = composer

    @cached_property
    def engine(self) -> AnswerEngine:
        """The answer engine over the live index; an LLM composer when LLM_PROVIDER/LLM_MODEL are set."""
        from bot.answering.curated import CuratedAnswers
        from bot.answering.engine import AnswerEngine
        from indexer.embedding import get_embedder, offline_environment
        from indexer.search import HybridSearcher

        offline_environment()
        searcher = HybridSearcher(self.settings, self._embedder or get_embedder(self.settings))
        composer = self._composer
        if composer is None and self.settings.llm_enabled:
            from bot.answering.llm import LLMComposer

            composer = LLMComposer.from_settings(self.settings)
        engine = AnswerEngine(searcher, composer=composer)
        engine.curated = CuratedAnswers(searcher, approved=self.answers, cache_dir=self.settings.data_dir / "cache")
        return engine

    @cached_property
    def answers(self) -> AnswerService:
        """Curated answers approved by consultants and staff (bot/answers/)."""
        from bot.answers.service import AnswerService

        return AnswerService(self.store)

    @cached_property
    def curation(self) -> Curation:
        """Model answers from consultants' conversations and admins' replies to gaps (bot/answers/curation.py)."""
        from bot.answers.curation import Curation

        return Curation(self.store, self.answers, self.settings.admin_ids)

    @cached_property
    def knowledge(self) -> KnowledgeAdmin:
        """Staff's knowledge-base service, sharing the engine's loaded model."""
        from bot.knowledge_admin import KnowledgeAdmin

        return KnowledgeAdmin(self.settings, self.engine.searcher.embedder)

    @cached_property
    def knowledge_status(self) -> KnowledgeAdmin:
        """The knowledge base's status and documents, for reading only: it never loads the model (the web
        console's pages; adding and removing go through `knowledge`, which shares the engine's model)."""
        from bot.knowledge_admin import KnowledgeAdmin

        return KnowledgeAdmin(self.settings)

    @cached_property
    def web_logins(self) -> Logins:
        """One-time login links (/web) and sessions of the staff web console (bot/web/logins.py)."""
        from bot.web.logins import Logins

        return Logins(self.store, self.settings.admin_ids, self.settings.web_base_url)

    def close(self) -> None:
        self.store.close()

    def serve(self) -> None:
        """Prepare for many users at once (the Telegram bot).

        The engine is warmed up (index loaded, every stage run once), the model runs one single-threaded pass
        per core, and sentence vectors for English answers not cached yet are filled in the background
        between questions (`python -m bot warmup` does it ahead).
        """
        engine = self.engine
        if self._embedder is None:  # a caller's own model keeps its threading
            engine.searcher.embedder.serve_concurrently()  # first: the model is then set up once, as it serves
        engine.warm_up()
        engine.missing_sentences()  # splits the index into sentences now, not while the first users wait
        threading.Thread(target=_fill_quietly, args=(engine,), name="sentence-cache", daemon=True).start()
        # The model, the index and the caches are ~600,000 objects that live as long as the process. Each full
        # collection of the cyclic garbage collector walked them all (~150 ms with the interpreter lock held,
        # every answer waiting); frozen, a collection sees only what was made since.
        gc.collect()
        gc.freeze()


def build_services(
    settings: Settings,
    *,
    serving: bool = False,
    embedder: SentenceTransformerEmbedder | None = None,
    composer: object | None = None,
) -> Services:
    """Settings -> services; `serving` warms everything up for the Telegram bot."""
    services = Services(settings, embedder=embedder, composer=composer)
    if serving:
        services.serve()
    return services


SENTENCE_CACHE_CHECK_SECONDS = 60.0  # how soon documents added by an admin (on any replica) get their vectors


def _fill_quietly(engine: AnswerEngine, every: float = SENTENCE_CACHE_CHECK_SECONDS) -> None:
    try:  # Linux: a thread's own niceness; with one torch thread per pass the work runs on this thread
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
    except (AttributeError, OSError):
        pass
    while True:  # after every index change, not only at start: an upload's sentences choose its answers too
        try:
            engine.fill_sentence_cache(batch=16, when_idle=2.0)  # nothing to do while the cache is complete
        except Exception as exc:  # noqa: BLE001 - a cache: answers choose sentences by their words meanwhile
            log.warning("could not fill the sentence-vector cache: %s", exc)
        time.sleep(every)
