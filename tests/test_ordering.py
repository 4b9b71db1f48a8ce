"""One sender's updates run in order; different senders' at the same time."""

import asyncio
import time

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


def _recorder(events: list[tuple[str, int]]):
    """A handler that takes `seconds` and records when each update started and ended."""

    async def handle(update: Update, seconds: float) -> None:
        events.append(("start", update.update_id))
        await asyncio.sleep(seconds)
        events.append(("end", update.update_id))

    return handle


async def test_one_senders_updates_are_sequential_and_others_run_alongside():
    processor = PerSenderUpdateProcessor(16)
    events: list[tuple[str, int]] = []
    handle = _recorder(events)

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


# -- across replicas: the sender's turn in the shared database (bot.turns) -----------------------------------


async def test_replicas_take_turns_for_one_sender_and_not_for_others(database_url):
    """Two processors on two connections to one database act as two replicas behind a round-robin proxy."""
    from bot.storage import Store
    from bot.turns import Turns

    stores = [Store(database_url), Store(database_url)]
    first, second = (PerSenderUpdateProcessor(8, turns=Turns(store)) for store in stores)
    events: list[tuple[str, int]] = []
    handle = _recorder(events)
    one, two, other = _update(11, 501), _update(12, 501), _update(13, 777)

    async def later(processor, update, seconds, delay):
        await asyncio.sleep(delay)
        await processor.process_update(update, handle(update, seconds))

    await asyncio.gather(later(first, one, 0.5, 0), later(second, two, 0, 0.1), later(second, other, 0, 0.15))
    assert events.index(("end", 11)) < events.index(("start", 12))  # the other replica waited for the turn
    assert events.index(("end", 13)) < events.index(("end", 11))  # another sender did not wait
    assert Turns(stores[0]).enter(501, 14)  # nothing left behind: the next update runs at once
    for store in stores:
        store.close()


def test_a_later_update_waits_for_an_earlier_one_and_a_dead_replicas_turn_runs_out(database_url):
    from bot.storage import Store
    from bot.turns import Turns

    store = Store(database_url)
    turns = Turns(store)
    assert turns.enter(501, 21, seconds=0.3)  # a replica runs update 21, then dies without leaving
    assert not turns.enter(501, 23)  # a later update of the same sender waits ...
    assert not turns.enter(501, 22)  # ... and so does one in between
    assert turns.enter(777, 24)  # someone else does not
    time.sleep(0.4)  # 21's lease ran out: the earliest waiting update goes first
    assert not turns.enter(501, 23)
    assert turns.enter(501, 22)
    turns.leave(22)
    assert turns.enter(501, 23)
    assert turns.enter(501, 21) is False  # 21 delivered again meanwhile waits behind the running 23
    turns.leave(23)
    assert turns.enter(501, 21)
    store.close()


async def test_replies_of_an_update_are_named_by_its_id_and_their_order():
    from bot.telegram.ordering import reply_origin

    processor = PerSenderUpdateProcessor(4)
    names: dict[int, list] = {}

    async def handle(update: Update) -> None:
        await asyncio.sleep(0.01)
        names[update.update_id] = [reply_origin(), reply_origin()]

    await asyncio.gather(*(processor.process_update(u, handle(u)) for u in (_update(31, 1), _update(32, 2))))
    assert names == {31: ["31:1", "31:2"], 32: ["32:1", "32:2"]}
    assert reply_origin() is None  # outside an update (a scheduled job): no name, nothing deduplicated
