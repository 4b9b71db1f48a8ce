"""The callback-data codec: what the bot encodes decodes back, and forged data decodes to nothing."""

import re

import pytest

from bot import callbacks
from bot.callbacks import KINDS, decode, encode, pattern


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("feedback", ("1", 42)),
        ("feedback", ("-1", 2**40)),
        ("human", ()),
        ("topic", ("ip",)),
        ("example", ("funding", 3, "en")),
        ("forget", ("yes",)),
        ("claim", (7,)),
        ("relay_choice", (12, 13)),
        ("transfer", (5, 0)),
        ("rate", (9, 5)),
        ("kb_remove", ("0123456789ab",)),
    ],
)
def test_round_trip(kind, values):
    data = encode(kind, *values)
    assert len(data.encode()) <= 64
    press = decode(data)
    assert press is not None and press.kind == kind and press.values == values
    assert re.match(pattern(kind), data)


@pytest.mark.parametrize(
    "forged",
    [
        "",
        None,
        "fb:1000:5",  # a feedback value other than +1/-1
        "fb:-7:5",
        "fb:1:" + "9" * 40,  # a 40-digit id
        "fb:1:0",
        "fb:1:-3",
        "fb:1",
        "fb:1:5:6",
        "hv:3:6",  # a rating out of 1-5
        "hc:abc",
        "hc:1.5",
        "topic:marketing",
        "ex:ip:999:vi",
        "ex:ip:1:fr",
        "kbrm:../../etc",
        "zz:1",
        "x" * 65,
    ],
)
def test_forged_data_decodes_to_nothing(forged):
    assert decode(forged) is None


def test_older_example_buttons_without_a_language_still_work():
    assert decode("ex:ip:0") == callbacks.Press("example", ("ip", 0))


def test_encode_refuses_what_decode_would_refuse():
    for kind, values in (("rate", (1, 9)), ("feedback", ("2", 1)), ("claim", (0,)), ("topic", ("x",))):
        with pytest.raises(ValueError):
            encode(kind, *values)


def test_prefixes_are_unique_and_patterns_do_not_overlap():
    prefixes = [prefix for prefix, _, _ in KINDS.values()]
    assert len(prefixes) == len(set(prefixes))
    assert not re.match(pattern("claim"), encode("claim_listed", 3))
    assert not re.match(pattern("transfer"), encode("transfer_options", 3))
