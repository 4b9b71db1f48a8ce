"""Build and run the python-telegram-bot Application (polling, or webhook when WEBHOOK_URL is set)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, MessageHandler, filters
from telegram.request import BaseRequest

from bot.storage import WORKER_THREADS
from bot.telegram import admin_handlers, answers_handlers, handlers, handoff_handlers, menus, needs_handlers
from bot.telegram.aiohttp_request import AiohttpRequest
from bot.telegram.context import CONTEXT_TYPES
from bot.telegram.handoff_delivery import on_start as start_handoff_jobs
from bot.telegram.ordering import PerSenderUpdateProcessor
from bot.telegram.ratelimit import MessageRateLimiter
from bot.turns import Turns

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)
EDITS_GROUP = -10  # before every other group: an edited message is never taken for a new one (handlers.edited)


def build_application(services: Services, request: BaseRequest | None = None) -> Application:
    """The python-telegram-bot Application over `services`.

    `request` replaces the HTTP layer (tests pass a recording fake; nothing touches the network).
    """
    settings = services.settings
    root = settings.telegram_api_url.rstrip("/")
    # One process owns a SQLite database; replicas share PostgreSQL, and with it each sender's turn and the rate.
    single = settings.sqlalchemy_url.startswith("sqlite")
    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(request or AiohttpRequest(connection_pool_size=32, read_timeout=30, connect_timeout=10))
        .get_updates_request(request or AiohttpRequest(connection_pool_size=1, read_timeout=40))
        .concurrent_updates(PerSenderUpdateProcessor(256, turns=None if single else Turns(services.store)))
        .rate_limiter(
            MessageRateLimiter(
                overall_max_rate=settings.telegram_messages_per_second,
                max_retries=3,
                shared=None if single else services.store,
            )
        )
        .context_types(CONTEXT_TYPES)
        .post_init(_post_init)
        .build()
    )
    app.bot_data.services = services
    PRIVATE = filters.ChatType.PRIVATE  # owners' commands: in a group they would open tickets for the group
    # Edits first, in every chat (the message filters below would match them too); polling and the webhook ask
    # Telegram for Update.ALL_TYPES, which includes "edited_message".
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, handlers.edited), group=EDITS_GROUP)
    # Staff first: admins' documents must reach the knowledge-base upload, not the generic non-text reply.
    admin_handlers.register(app, settings.admin_ids)
    handoff_handlers.register(app)  # its buttons (pattern ^h?:) before the generic callback handler
    answers_handlers.register(app)  # its buttons (^a?:) too; an edit in progress takes the next message first
    needs_handlers.register(app)  # its buttons (^n[fd]:) too; form answers in an earlier group than questions
    app.add_handler(CommandHandler("start", handlers.start, filters=PRIVATE))
    app.add_handler(CommandHandler("help", handlers.help_, filters=PRIVATE))
    app.add_handler(CommandHandler("topics", handlers.topics, filters=PRIVATE))
    app.add_handler(CommandHandler("privacy", handlers.privacy, filters=PRIVATE))
    app.add_handler(CommandHandler("new", handlers.new, filters=PRIVATE))
    app.add_handler(CommandHandler("forget", handlers.forget, filters=PRIVATE))
    app.add_handler(CommandHandler("human", handlers.human, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(handlers.callback))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, handlers.question))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.COMMAND, handlers.non_text))
    app.add_error_handler(handlers.on_error)
    return app


async def _post_init(app: Application) -> None:
    # Handlers hop to threads for the database and the engine; with the default pool of cores+4
    # workers, quick database calls queue behind answers waiting for the model.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="work")
    )
    await menus.install(app)  # a menu Telegram refuses is logged, never fatal
    await start_handoff_jobs(app)


def run_telegram(services: Services) -> int:
    """Serve Telegram until stopped; `services` come from `bot.app.build_services(settings, serving=True)`."""
    settings = services.settings
    app = build_application(services)
    log.info("bot starting (%s mode)", "webhook" if settings.webhook_url else "polling")
    if settings.webhook_url:
        from bot.telegram.webhook import run_webhook

        # Our own server rather than app.run_webhook: it also answers GET /healthz on the same port.
        run_webhook(app, services)
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
