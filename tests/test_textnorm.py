"""Normalisation every text passes through: NFC, invisible characters, diacritic folding."""

from indexer.textnorm import fold, nfc, tokens


def test_invisible_characters_inside_words_are_dropped():
    pasted = "Nh\u200bãn hi\u00adệu đư\u200dợc b\ufeffảo h\u2060ộ bao l\u200câu"
    assert nfc(pasted) == "Nhãn hiệu được bảo hộ bao lâu"
    assert tokens(pasted) == ["nhan", "hieu", "duoc", "bao", "ho", "bao", "lau"]


def test_emoji_sequences_keep_their_joiner():
    assert nfc("🧑\u200d💼 chuyên gia") == "🧑\u200d💼 chuyên gia"


def test_decomposed_input_is_composed_before_folding():
    decomposed = "Ba\u0309o ho\u0323\u0302"  # "Bảo hộ" typed with combining marks
    assert nfc(decomposed) == "Bảo hộ" and fold(decomposed) == "bao ho"
