"""What kind of message this is, learned from labelled examples (`intents.jsonl`) instead of word lists.

A multinomial logistic regression on the E5 query embedding the engine computes for retrieval anyway, so
classifying costs one small matrix product. It is trained from the examples in the repository at start-up
(a few seconds: the examples are embedded once as written and once folded, as owners often type without
diacritics) and cached under DATA_DIR/cache, keyed by the examples' hash and the model's name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answering import abbreviations
from bot.answering.language import detect_language
from indexer.textnorm import fold, has_diacritics, nfc

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).with_name("intents.jsonl")
LABELS = ("question", "human", "greeting", "thanks", "out_of_remit", "size", "own_case")
# Part of the cache key: a change to how the model is trained must not read an older model.
RECIPE = "softmax-l2-standardised-v2"
EXAMPLE_FORMS = "written-folded-expanded-cued-v3"  # part of the key of the examples' vectors: how `variants` forms them
# Words owners add to any message without changing what it asks: a year, "hiện nay", a polite opener or particle.
# Each example is learned once more with one of them, so the classifier cannot read them as a sign of one intent:
# without it "lương tối thiểu vùng 2026 là bao nhiêu" was a question for the centre, because questions in the
# remit often cite a year. Greetings and thanks are left as written ("cảm ơn năm 2026" is no message).
NEUTRAL_OPENERS = {
    "vi": ("cho mình hỏi", "xin hỏi", "cho em hỏi", "ad ơi", "anh chị cho hỏi"),
    "en": ("quick question:", "hi,", "please tell me:", "I'd like to know:"),
}
NEUTRAL_ENDINGS = {
    "vi": ("năm 2026", "năm nay", "hiện nay", "ạ", "vậy", "theo quy định mới nhất", "ở tỉnh mình", "2025", "nhé"),
    "en": ("in 2026", "currently", "this year", "in Vietnam", "please"),
}
UNCUED = ("greeting", "thanks")


@dataclass
class Intent:
    label: str
    probability: float
    probabilities: dict[str, float]

    def p(self, label: str) -> float:
        return self.probabilities.get(label, 0.0)


def load_examples(path: Path = EXAMPLES) -> list[tuple[str, str]]:
    """(text, label) pairs; an unknown label is an error in the file, not something to skip."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["intent"] not in LABELS:
            raise ValueError(f"{path}:{n}: unknown intent {row['intent']!r}")
        rows.append((nfc(row["text"]), row["intent"]))
    return rows


def variants(text: str, label: str = "question") -> list[str]:
    """The forms a model should learn from: as written, folded when it has diacritics, with its abbreviations
    written out (as the engine reads a question: "dk shtt" as "đăng ký sở hữu trí tuệ"), and with a neutral
    opener or ending (`NEUTRAL_ENDINGS`) except for greetings and thanks."""
    forms = [text, fold(text)] if has_diacritics(text) else [text]
    cued = [] if label in UNCUED else [_cued(form) for form in forms]
    return list(dict.fromkeys(forms + [abbreviations.expand(form) for form in forms] + cued))


def _cued(text: str) -> str:
    """`text` with one neutral opener or ending, chosen by the text itself (the same model on every machine)."""
    lang = "en" if detect_language(text, (), "vi") == "en" else "vi"
    pick = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    openers, endings = NEUTRAL_OPENERS[lang], NEUTRAL_ENDINGS[lang]
    core = text.strip().rstrip("?.! ")
    mark = "?" if text.rstrip().endswith("?") else ""
    if pick % 2:
        out = f"{openers[pick // 2 % len(openers)]} {core[:1].lower()}{core[1:]}{mark}"
    else:
        out = f"{core} {endings[pick // 2 % len(endings)]}{mark}"
    return out if lang == "en" or has_diacritics(text) else fold(out)  # typed without diacritics: added so too


def embed_examples(embedder, examples: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, label indices, example index of each vector) — the index keeps variants in one fold."""
    texts, labels, groups = [], [], []
    for n, (text, label) in enumerate(examples):
        for form in variants(text, label):
            texts.append(form)
            labels.append(LABELS.index(label))
            groups.append(n)
    vectors = np.concatenate([embedder.embed_queries(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    return vectors.astype(np.float32), np.asarray(labels), np.asarray(groups)


class SoftmaxRegression:
    """Multinomial logistic regression with L2, class-balanced, fitted by full-batch Adam (numpy only)."""

    def __init__(self, l2: float = 3e-2, steps: int = 400, rate: float = 0.05) -> None:
        self.l2, self.steps, self.rate = l2, steps, rate
        self.mean = self.scale = self.weights = self.bias = None

    def fit(self, x: np.ndarray, y: np.ndarray, classes: int) -> SoftmaxRegression:
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0) + 1e-6
        z = (x - self.mean) / self.scale
        n, d = z.shape
        onehot = np.eye(classes, dtype=np.float64)[y]
        counts = np.bincount(y, minlength=classes).astype(np.float64)
        sample_weight = (n / (classes * np.maximum(counts, 1)))[y][:, None] / n
        w = np.zeros((d, classes))
        b = np.zeros(classes)
        moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
        for step in range(1, self.steps + 1):
            p = _softmax(z @ w + b)
            error = (p - onehot) * sample_weight
            grads = (z.T @ error + self.l2 * w, error.sum(axis=0))
            for k, (param, grad) in enumerate(zip((w, b), grads)):
                m, v = moments[2 * k], moments[2 * k + 1]
                m *= 0.9
                m += 0.1 * grad
                v *= 0.999
                v += 0.001 * grad * grad
                param -= self.rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        self.weights, self.bias = w.astype(np.float32), b.astype(np.float32)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax(((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _key(embedder, path: Path, recipe: str = "") -> str:
    digest = hashlib.sha256(path.read_bytes() + recipe.encode()).hexdigest()[:16]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", getattr(embedder, "name", "model")) + "-" + digest


# One process embeds the examples and trains once, whatever number of engines it builds (tests build many).
_MEMO: dict[str, object] = {}
_MEMO_LOCK = threading.Lock()


def example_vectors(
    embedder, cache_dir: Path | None = None, path: Path = EXAMPLES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`embed_examples` for the examples file, cached in the process and under `cache_dir`."""
    key = "vectors-" + _key(embedder, path, EXAMPLE_FORMS)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        cache = cache_dir / f"intent-examples-{key[8:]}.npz" if cache_dir is not None else None
        data = None
        if cache is not None and cache.exists():
            try:
                with np.load(cache, allow_pickle=False) as npz:
                    data = (npz["x"], npz["y"], npz["groups"])
            except Exception as exc:  # noqa: BLE001 - a damaged cache only costs embedding again
                log.warning("ignoring the intent examples cache %s: %s", cache, exc)
        if data is None:
            data = embed_examples(embedder, load_examples(path))
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
                with open(tmp, "wb") as fh:
                    np.savez(fh, x=data[0], y=data[1], groups=data[2])
                os.replace(tmp, cache)
        _MEMO[key] = data
        return data


class IntentClassifier:
    def __init__(self, model: SoftmaxRegression) -> None:
        self.model = model

    @classmethod
    def train(cls, embedder, examples: list[tuple[str, str]] | None = None) -> IntentClassifier:
        x, y, _ = embed_examples(embedder, examples or load_examples())
        return cls(SoftmaxRegression().fit(x, y, len(LABELS)))

    @classmethod
    def load_or_train(cls, embedder, cache_dir: Path | None, path: Path = EXAMPLES) -> IntentClassifier:
        """Read the cached model for these examples and this embedding model, or train and cache it."""
        key = "model-" + _key(embedder, path, RECIPE + EXAMPLE_FORMS)
        cache = cache_dir / f"intents-{key[6:]}.npz" if cache_dir is not None else None
        memo = _MEMO.get(key)
        if isinstance(memo, IntentClassifier):
            if cache is not None and not cache.exists():
                try:  # trained here already: another process using that folder need not train again
                    memo._save(cache)
                except OSError as exc:  # a cache only: this process has its model
                    log.warning("could not write the intent model to %s: %s", cache, exc)
            return memo
        if cache is not None:
            loaded = cls._load(cache)
            if loaded is not None:
                _MEMO[key] = loaded
                return loaded
        x, y, _ = example_vectors(embedder, cache_dir, path)
        classifier = cls(SoftmaxRegression().fit(x, y, len(LABELS)))
        if cache is not None:
            classifier._save(cache)
        _MEMO[key] = classifier
        return classifier

    def classify(self, vector: np.ndarray) -> Intent:
        probs = self.model.predict_proba(vector)[0]
        best = int(probs.argmax())
        return Intent(LABELS[best], float(probs[best]), {label: float(p) for label, p in zip(LABELS, probs)})

    # -- persistence -----------------------------------------------------------
    @classmethod
    def _load(cls, path: Path) -> IntentClassifier | None:
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if tuple(str(s) for s in data["labels"]) != LABELS:
                    return None
                model = SoftmaxRegression()
                model.mean, model.scale = data["mean"], data["scale"]
                model.weights, model.bias = data["weights"], data["bias"]
        except Exception as exc:  # noqa: BLE001 - a damaged cache only costs a retraining
            log.warning("ignoring the intent model cache %s: %s", path, exc)
            return None
        return cls(model)

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        m = self.model
        with open(tmp, "wb") as fh:
            np.savez(fh, labels=np.asarray(LABELS), mean=m.mean, scale=m.scale, weights=m.weights, bias=m.bias)
        os.replace(tmp, path)


class LazyIntents:
    """The classifier, trained or loaded on first use (the engine's warm-up pays for it, not a user)."""

    def __init__(self, embedder, cache_dir: Path | None) -> None:
        self.embedder, self.cache_dir = embedder, cache_dir
        self._classifier: IntentClassifier | None = None
        self._lock = threading.Lock()

    def classify(self, vector: np.ndarray) -> Intent:
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = IntentClassifier.load_or_train(self.embedder, self.cache_dir)
        return self._classifier.classify(vector)


def grouped_folds(groups: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """The fold of each row, all rows of one group (the forms of one example) in the same fold."""
    example_ids = np.unique(groups)
    fold_of = dict(zip(np.random.default_rng(seed).permutation(example_ids), np.arange(len(example_ids)) % folds))
    return np.asarray([fold_of[g] for g in groups])


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5, seed: int = 0) -> dict:
    """Macro-F1 and per-label F1 over `folds` folds; all forms of one example stay in the same fold."""
    assignment = grouped_folds(groups, folds, seed)
    predicted = np.zeros_like(y)
    for k in range(folds):
        test = assignment == k
        model = SoftmaxRegression().fit(x[~test], y[~test], len(LABELS))
        predicted[test] = model.predict_proba(x[test]).argmax(axis=1)
    f1 = {}
    for n, label in enumerate(LABELS):
        tp = int(((predicted == n) & (y == n)).sum())
        fp = int(((predicted == n) & (y != n)).sum())
        fn = int(((predicted != n) & (y == n)).sum())
        f1[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"macro_f1": float(np.mean(list(f1.values()))), "f1": f1, "accuracy": float((predicted == y).mean())}
