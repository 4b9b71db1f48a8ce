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


def test_restoring_diacritics_weighs_both_neighbours_of_a_word():
    from indexer.restore import DiacriticRestorer

    # "làm thử" is a pair of the documents too; read left to right, "thu" would go with "lam" and leave "tuc"
    # to itself. Across the three words, "thủ tục" (the documents' usual pair) wins.
    restorer = DiacriticRestorer.from_texts(
        ["Làm thử sản phẩm mẫu.", "Làm thử trước khi bán.", "Thủ tục đăng ký.", "Thủ tục nộp đơn.", "Thủ tục ở đâu?"]
    )
    assert restorer.restore("lam thu tuc dang ky o dau") == "làm thủ tục đăng ký ở đâu"


def test_a_word_no_neighbour_settles_is_left_as_typed_rather_than_given_a_wrong_accent():
    from indexer.restore import DiacriticRestorer

    # "dung" is "dụng" in "sử dụng" and "áp dụng", "đúng" in "đúng hạn": alone, neither form is sure.
    restorer = DiacriticRestorer.from_texts(
        ["Sử dụng nhãn hiệu.", "Áp dụng quy trình.", "Ứng dụng phần mềm.", "Nộp đúng hạn.", "Doanh nghiệp siêu nhỏ."]
    )
    assert restorer.restore("sieu nho dung ko") == "siêu nhỏ dung ko"
    assert restorer.restore("su dung nhan hieu") == "sử dụng nhãn hiệu"  # the pair settles it
    assert restorer.restore("nop dung han") == "nộp đúng hạn"
