"""Sentence vectors for English answers: filled once, kept on disk, a damaged file only costs time."""

import numpy as np

from bot.answering.sentence_cache import SentenceVectors


class CountingEmbedder:
    name = "fake/model"
    dim = 4

    def __init__(self):
        self.embedded: list[str] = []

    def embed_passages(self, texts, batch_size=32, progress=False):
        self.embedded.extend(texts)
        return np.stack([np.full(self.dim, float(len(t)), dtype=np.float32) for t in texts])


def test_fill_embeds_only_what_is_missing_and_survives_a_restart(tmp_path):
    path = SentenceVectors.path_for(tmp_path, "fake/model")
    first = SentenceVectors(CountingEmbedder(), path=path)
    assert first.fill(["một", "hai", "một"]) == 2
    first.save()
    model = CountingEmbedder()
    second = SentenceVectors(model, path=path)
    assert second.load() == 2
    assert second.fill(["một", "hai", "ba"]) == 1 and model.embedded == ["ba"]
    assert np.allclose(second.vectors(["hai", "một"]), [[3.0] * 4, [3.0] * 4])
    assert model.embedded == ["ba"]  # served from the cache


def test_a_damaged_or_foreign_cache_is_ignored(tmp_path):
    path = tmp_path / "vectors.npz"
    path.write_bytes(b"not a zip file")
    assert SentenceVectors(CountingEmbedder(), path=path).load() == 0
    np.savez(path, texts_utf8=np.frombuffer(b"a", np.uint8), vectors=np.zeros((1, 7), np.float32))  # other model
    cache = SentenceVectors(CountingEmbedder(), path=path)
    assert cache.load() == 0 and len(cache) == 0


def test_save_replaces_the_file_whole(tmp_path):
    path = tmp_path / "cache" / "v.npz"
    cache = SentenceVectors(CountingEmbedder(), path=path)
    cache.fill(["x"])
    cache.save()
    cache.fill(["yy"])
    cache.save()
    assert not list(path.parent.glob("*.tmp"))
    assert SentenceVectors(CountingEmbedder(), path=path).load() == 2


def test_fill_stops_at_capacity_instead_of_evicting_what_it_just_filled(tmp_path):
    model = CountingEmbedder()
    cache = SentenceVectors(model, capacity=2, path=tmp_path / "v.npz")
    assert cache.fill(["a", "bb", "ccc"]) == 2 and len(cache) == 2
    assert cache.fill(["a", "bb", "ccc"]) == 0


def test_cached_embeds_a_few_missing_sentences_on_demand_but_never_many(tmp_path):
    model = CountingEmbedder()
    cache = SentenceVectors(model, path=tmp_path / "v.npz")
    cache.fill(["a", "bb"])
    assert cache.cached(["a", "bb", "ccc"]) is None and model.embedded == ["a", "bb"]  # 0: never embeds
    assert cache.cached(["a", "ccc", "dddd", "eeeee"], embed_up_to=2) is None  # three missing: too many
    assert model.embedded == ["a", "bb"]
    found = cache.cached(["a", "ccc", "dddd"], embed_up_to=2)  # a freshly uploaded document's two sentences
    assert found is not None and np.allclose(found[:, 0], [1.0, 3.0, 4.0])
    assert model.embedded == ["a", "bb", "ccc", "dddd"]


def test_a_serving_bot_fills_the_cache_again_after_every_index_change():
    import threading

    from bot.app import _fill_quietly

    class Engine:  # the index changes after the first fill (an admin's upload): the next round embeds its sentences
        def __init__(self):
            self.missing = [["a", "b"], [], ["uploaded"]]
            self.filled: list[str] = []
            self.done = threading.Event()

        def fill_sentence_cache(self, batch, when_idle):
            if self.missing:
                self.filled += self.missing.pop(0)
            if not self.missing:
                self.done.set()
            return 0

    engine = Engine()
    threading.Thread(target=_fill_quietly, args=(engine, 0.001), daemon=True).start()
    assert engine.done.wait(10) and engine.filled == ["a", "b", "uploaded"]
