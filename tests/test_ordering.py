"""One sender's updates run in order; different senders' at the same time."""

import asyncio

from telegram import Update

from bot.telegram.ordering import PerSenderUpdateProcessor, sender_of


def _update(update_id: int, user_id: int) -> Update:
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "U"},
        "text": "x",
    }
    return Update.de_json({"update_id": update_id, "message": message}, None)


async def test_one_senders_updates_are_sequential_and_others_run_alongside():
    processor = PerSenderUpdateProcessor(16)
    events: list[tuple[str, int]] = []

    async def handle(update: Update, seconds: float) -> None:
        events.append(("start", update.update_id))
        await asyncio.sleep(seconds)
        events.append(("end", update.update_id))

    first, second, other = _update(1, 501), _update(2, 501), _update(3, 777)
    await asyncio.gather(
        processor.process_update(first, handle(first, 0.2)),
        processor.process_update(second, handle(second, 0.0)),
        processor.process_update(other, handle(other, 0.0)),
    )
    assert events.index(("end", 1)) < events.index(("start", 2))  # the quick second message waited
    assert events.index(("end", 3)) < events.index(("end", 1))  # another user did not wait
    assert processor._locks == {} and processor._waiting == {}  # nothing kept once idle


async def test_a_failing_update_does_not_block_the_next_one():
    processor = PerSenderUpdateProcessor(4)
    done: list[int] = []

    async def boom() -> None:
        raise RuntimeError("handler failed")

    async def ok() -> None:
        done.append(2)

    first, second = _update(1, 501), _update(2, 501)
    results = await asyncio.gather(
        processor.process_update(first, boom()), processor.process_update(second, ok()), return_exceptions=True
    )
    assert isinstance(results[0], RuntimeError) and done == [2]


def test_sender_is_the_user_else_the_chat():
    assert sender_of(_update(1, 42)) == 42
    assert sender_of(Update.de_json({"update_id": 5}, None)) is None
    assert sender_of("not an update") is None
