"""The out-of-remit model: how it is learned, and the one shipped with the code."""

import numpy as np

from bot.answering.remit import FEATURES, MODEL_FILE, RemitModel, features, fit, learn


def _data(n: int = 400, seed: int = 0):
    """Out of remit: the classifier leans that way and the nearest passage is far; in remit: the reverse."""
    rng = np.random.default_rng(seed)
    outside = rng.random(n) < 0.3
    p_out = np.clip(rng.normal(np.where(outside, 0.6, 0.2), 0.2), 0.01, 0.99)
    rows = np.stack(
        [
            features(
                p_out=float(p),
                p_in=float(0.9 * (1 - p)),
                top_dense=float(rng.normal(0.86 if o else 0.91, 0.015)),
                coverage=float(np.clip(rng.normal(0.5 if o else 0.8, 0.2), 0, 1)),
                known_pairs=float(np.clip(rng.normal(0.6 if o else 0.85, 0.15), 0, 1)),
                english=bool(rng.random() < 0.1),
            )
            for o, p in zip(outside, p_out)
        ]
    )
    return rows, outside, np.arange(n)


def test_retrieval_evidence_decides_where_the_classifier_hesitates():
    rows, outside, groups = _data()
    model, report = learn(rows, outside, groups)
    assert report["recall"] >= 0.85 and report["false_alarms"] <= 0.1, report
    assert 0.3 <= model.threshold <= 0.8
    # Same classifier probability: a question far from every passage is out, one close to a passage is in.
    far = features(0.45, 0.5, 0.85, 0.4, 0.5, False)
    near = features(0.45, 0.5, 0.93, 0.9, 0.9, False)
    assert model.probability(far)[0] > model.threshold > model.probability(near)[0]


def test_the_threshold_weighs_the_errors_by_how_many_questions_are_outside():
    """Fewer questions outside the remit: a false alarm weighs more, so the threshold does not go down."""
    rows, outside, groups = _data(600, seed=3)
    rows = rows + np.random.default_rng(4).normal(0, 1.5, rows.shape)  # overlapping classes: a real trade-off
    thresholds = []
    for share in (0.5, 0.2, 0.05):
        model, report = learn(rows, outside, groups, share)
        thresholds.append(model.threshold)
        assert report["expected_errors"] == round(
            (1 - share) * report["false_alarms"] + share * (1 - report["recall"]), 4
        )
    assert thresholds[0] <= thresholds[1] <= thresholds[2] and thresholds[0] < thresholds[2]


def test_the_model_round_trips_through_its_file(tmp_path):
    rows, outside, _ = _data(200, seed=1)
    model = fit(rows, outside)
    path = tmp_path / "remit.json"
    path.write_text(model.to_json({"f1": 1.0}), encoding="utf-8")
    again = RemitModel.load(path)
    assert np.allclose(again.probability(rows), model.probability(rows), atol=1e-4)


def test_the_shipped_model_was_learned_for_these_features_and_reports_its_figures():
    import json

    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert tuple(data["features"]) == FEATURES
    report = data["cross_validation"]
    assert report["recall"] > report["classifier_alone"]["recall"]
    assert report["f1"] > report["classifier_alone"]["f1"]
    model = RemitModel.load()
    # The classifier's view still counts: more probable out of remit, everything else equal, is more likely out.
    assert (
        model.probability(features(0.9, 0.1, 0.88, 0.6, 0.7, False))[0]
        > model.probability(features(0.1, 0.9, 0.88, 0.6, 0.7, False))[0]
    )
