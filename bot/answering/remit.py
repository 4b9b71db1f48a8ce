"""Whether a question lies outside the centre's remit: the intent classifier's view weighed with what retrieval found.

The classifier alone knows the topics its examples name; an owner's near-domain question on another topic (an
electricity tariff, overtime hours, e-invoices) reads to it like any question. Retrieval knows where the
documents end: how close the nearest passage comes, how much of the question's wording the best document covers,
how many of its word pairs the knowledge base uses at all. A small logistic model weighs the two, learned from
the intent examples (`intents.jsonl`): their out-of-remit examples against the questions, own cases and size
questions, each run through retrieval over the shipped knowledge base, with the classifier's probability taken
from cross-validation (on its own training examples the classifier is sure of everything). Its threshold is the
one with the fewest expected errors under cross-validation, the two errors weighed by how many owners' questions
lie outside the remit (`OUT_OF_REMIT_SHARE`), not by how many examples do. `python -m bot.answering.remit` learns
it again and prints the cross-validated figures; the result is `remit_model.json`, next to this file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answering import intents

log = logging.getLogger(__name__)
MODEL_FILE = Path(__file__).with_name("remit_model.json")
FEATURES = (
    "logit_out_of_remit",
    "logit_in_remit",
    "top_dense",
    "coverage",
    "known_pairs",
    "english",
    "english_top_dense",
)
IN_REMIT = ("question", "own_case", "size")
FOLDS = 5
# The share of owners' questions that lie outside the remit, as the threshold weighs the two errors: the examples
# hold far more of them (a third) than owners send, so the best-F1 threshold on the examples declines too many
# questions the documents answer. About one in five (the evaluation design of issue 12 has 50 in 300).
OUT_OF_REMIT_SHARE = 0.2


def features(
    p_out: float, p_in: float, top_dense: float, coverage: float, known_pairs: float, english: bool
) -> np.ndarray:
    """One row of `FEATURES`: `p_out` the classifier's out-of-remit probability, `p_in` that of a question, an own
    case or a size question together (the rest is a person, small talk). English questions meet Vietnamese
    passages, so their similarities run lower."""
    en = float(english)
    return np.array(
        [_logit(p_out), _logit(p_in), top_dense, coverage, known_pairs, en, en * top_dense], dtype=np.float64
    )


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


def in_remit_probability(intent) -> float:
    return sum(intent.p(label) for label in IN_REMIT)


@dataclass
class RemitModel:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float = 0.5

    def probability(self, rows: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(rows) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias)))

    def outside(self, intent, retrieval) -> bool:
        """`intent` (bot.answering.intents.Intent) and `retrieval` (bot.answering.retrieval.Retrieval)."""
        row = features(
            intent.p("out_of_remit"),
            in_remit_probability(intent),
            retrieval.top_dense,
            retrieval.coverage,
            retrieval.known_pairs,
            retrieval.lang == "en",
        )
        return bool(self.probability(row)[0] >= self.threshold)

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self, report: dict | None = None) -> str:
        data = {
            "features": list(FEATURES),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(float(self.bias), 6),
            "threshold": round(float(self.threshold), 3),
            "cross_validation": report or {},
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RemitModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: made for features {data['features']}, this code has {list(FEATURES)}")
        return cls(
            np.asarray(data["mean"]),
            np.asarray(data["scale"]),
            np.asarray(data["weights"]),
            float(data["bias"]),
            float(data["threshold"]),
        )


def fit(rows: np.ndarray, outside: np.ndarray, l2: float = 1e-2, steps: int = 3000) -> RemitModel:
    """Class-balanced logistic regression by gradient descent (a handful of features: numpy is enough)."""
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    z = (rows - mean) / scale
    t = outside.astype(np.float64)
    share = t.mean()
    weight = np.where(t == 1, 0.5 / share, 0.5 / (1 - share)) / len(t)
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        error = (p - t) * weight
        w -= 0.5 * (z.T @ error + l2 * w)
        b -= 0.5 * float(error.sum())
    return RemitModel(mean, scale, w, b)


def _scores(predicted: np.ndarray, outside: np.ndarray) -> dict:
    tp = int((predicted & outside).sum())
    fp = int((predicted & ~outside).sum())
    fn = int((~predicted & outside).sum())
    return {
        "recall": round(tp / max(1, tp + fn), 3),
        "false_alarms": round(fp / max(1, int((~outside).sum())), 3),
        "f1": round(2 * tp / max(1, 2 * tp + fp + fn), 3),
    }


def expected_errors(scores: dict, share: float = OUT_OF_REMIT_SHARE) -> float:
    """Wrong decisions per question when `share` of the questions lie outside the remit."""
    return (1 - share) * scores["false_alarms"] + share * (1 - scores["recall"])


def learn(
    rows: np.ndarray, outside: np.ndarray, groups: np.ndarray, share: float = OUT_OF_REMIT_SHARE
) -> tuple[RemitModel, dict]:
    """The model on every row, its threshold the one with the fewest expected errors under grouped cross-validation
    (`share` of the questions outside the remit), and its figures."""
    assignment = intents.grouped_folds(groups, FOLDS)
    held_out = np.zeros(len(outside))
    for k in range(FOLDS):
        test = assignment == k
        held_out[test] = fit(rows[~test], outside[~test]).probability(rows[test])
    candidates = np.round(np.arange(0.3, 0.96, 0.05), 2)
    best = min(candidates, key=lambda th: (expected_errors(_scores(held_out >= th, outside), share), abs(th - 0.5)))
    model = fit(rows, outside)
    model.threshold = float(best)
    chosen = _scores(held_out >= best, outside)
    report = {"threshold": float(best), **chosen, "expected_errors": round(expected_errors(chosen, share), 4)}
    report["examples"] = len(outside)
    return model, report


def training_rows(engine) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(rows, outside, groups, report of the classifier alone) from the intent examples, through `engine` (its
    index loaded: `engine.searcher.ensure_fresh()`)."""
    from bot.answering import abbreviations
    from bot.answering.language import detect_language
    from indexer.textnorm import fold, has_diacritics

    texts, labels, groups = [], [], []
    for n, (text, label) in enumerate(intents.load_examples()):  # n: as in the classifier's own example groups
        if label not in IN_REMIT + ("out_of_remit",):
            continue
        for form in [text, fold(text)] if has_diacritics(text) else [text]:
            texts.append(form)
            labels.append(label)
            groups.append(n)
    groups_arr = np.asarray(groups)
    searched, vectors = [], []
    for form in texts:
        lang = detect_language(form, (), "vi") or "vi"
        query = abbreviations.expand(form) if lang == "vi" else form
        vectors.append(engine.searcher.query_vector(query, restore=lang == "vi"))
        searched.append((query, lang))
    x = np.asarray(vectors, dtype=np.float32)
    y = np.asarray([intents.LABELS.index(label) for label in labels])
    # The classifier's probability for each example from a model that did not see it (nor its other forms).
    assignment = intents.grouped_folds(groups_arr, FOLDS, seed=1)
    p_out, p_in = np.zeros(len(y)), np.zeros(len(y))
    column = intents.LABELS.index("out_of_remit")
    inside = [intents.LABELS.index(label) for label in IN_REMIT]
    all_x, all_y, all_groups = intents.example_vectors(engine.searcher.embedder, engine.intents.cache_dir)
    for k in range(FOLDS):
        test = assignment == k
        # Every form the classifier learns from (cued, expanded), less those of the held-out examples.
        keep = ~np.isin(all_groups, groups_arr[test])
        model = intents.SoftmaxRegression().fit(all_x[keep], all_y[keep], len(intents.LABELS))
        probabilities = model.predict_proba(x[test])
        p_out[test], p_in[test] = probabilities[:, column], probabilities[:, inside].sum(axis=1)
    rows = []
    for (query, lang), vector, p, q in zip(searched, vectors, p_out, p_in):
        found = engine.retriever.retrieve(query, lang=lang, vector=vector)
        rows.append(features(p, q, found.top_dense, found.coverage, found.known_pairs, lang == "en"))
    outside = np.asarray([label == "out_of_remit" for label in labels])
    alone = _scores(p_out >= 0.5, outside)
    return np.asarray(rows), outside, groups_arr, alone


def main() -> None:
    """Learn the model from the intent examples over the shipped knowledge base and write `MODEL_FILE`."""
    from bot.app import Services
    from bot.config import Settings

    logging.basicConfig(level=logging.WARNING)
    engine = Services(Settings()).engine
    engine.searcher.ensure_fresh()
    if engine.searcher.keyword is None or not engine.searcher.keyword.ids:
        raise SystemExit("no documents indexed: run `python -m indexer refresh` first")
    rows, outside, groups, alone = training_rows(engine)
    model, report = learn(rows, outside, groups)
    report["classifier_alone"] = alone
    MODEL_FILE.write_text(model.to_json(report), encoding="utf-8")
    print(f"out of remit, cross-validated on {report['examples']} example forms:")
    print(f"  classifier alone (p >= 0.5): {alone}")
    print(
        f"  with retrieval (p >= {report['threshold']}): "
        + str({k: report[k] for k in ("recall", "false_alarms", "f1")})
    )
    print(f"written {MODEL_FILE}")


if __name__ == "__main__":
    main()
