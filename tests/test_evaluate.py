"""Evaluation: metric definitions, fold hygiene (authored always training-only), curve, eval set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kwct_ml.config import TrainConfig
from kwct_ml.errors import DataError
from kwct_ml.training import cv as evaluate
from kwct_ml.training import fit
from kwct_ml.training.cv import cross_validate, evaluate_external
from kwct_ml.training.fit import fit_model
from kwct_ml.training.learning_curve import learning_curve
from kwct_ml.training.metrics import expected_calibration_error, majority_label, score

FAST = TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", learning_curve_repeats=2)


@pytest.fixture(scope="module")
def corpus(repo_dir) -> pd.DataFrame:
    """The three smallest seed articles plus four authored sentences (bilateral_relations only there)."""
    frame = pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    docs = frame["doc_id"].value_counts().sort_values().index[:3]
    frame = frame[frame["doc_id"].isin(docs)]
    authored = pd.DataFrame({
        "doc_id": ["auth-a", "auth-a", "auth-b", "auth-b"], "sent_id": ["0", "1", "0", "1"],
        "text": ["أكدت الوزارة دعمها الكامل للجهود الدولية.", "تعرب الكويت عن قلقها البالغ من تصاعد التوتر.",
                 "قدمت الكويت مساعدات إنسانية للنازحين.", "بحث الجانبان تعزيز العلاقات الثنائية."],
        "topic": ["ct_cooperation", "regional_politics", "humanitarian", "bilateral_relations"],
        "stance": ["support", "concern", "support", "neutral"], "source": "authored"})
    return pd.concat([frame, authored], ignore_index=True)


def test_macro_f1_over_labels_in_gold_or_pred():
    gold = ["support", "support", "neutral", "concern"]
    pred = ["support", "neutral", "neutral", "solidarity"]
    result = score("stance", gold, pred)
    assert result["labels"] == ["solidarity", "support", "concern", "neutral"]  # schema order
    f1 = {c["label"]: c["f1"] for c in result["per_class"]}
    assert f1 == pytest.approx({"solidarity": 0.0, "support": 2 / 3, "concern": 0.0, "neutral": 2 / 3})
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 4)
    assert result["accuracy"] == 0.5
    assert [c["support"] for c in result["per_class"]] == [0, 2, 1, 1]
    assert result["confusion"][1] == [0, 1, 0, 1]  # gold support: 1 right, 1 -> neutral


def test_calibration_error():
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([False, False])) == pytest.approx(0.9)
    result = score("topic", ["other", "other"], ["other", "extremism"], [0.8, 0.6])
    assert result["mean_confidence"] == pytest.approx(0.7) and 0 <= result["ece"] <= 1


def test_majority_ties_follow_schema_order():
    assert majority_label(["neutral", "support", "neutral", "support"], "stance") == "support"
    assert majority_label(["other", "other", "extremism"], "topic") == "other"


def test_folds_score_articles_only_and_always_train_on_authored(corpus, monkeypatch):
    seen = []
    real = evaluate._fit_predict

    def spy(config, task, train, texts, builder=evaluate.build_pipeline, groups=None, **options):
        seen.append((task, set(train["doc_id"]), len(texts)))
        return real(config, task, train, texts, builder, groups, **options)

    monkeypatch.setattr(evaluate, "_fit_predict", spy)
    metrics, predictions = cross_validate(corpus, FAST)
    articles = sorted(d for d in corpus["doc_id"].unique() if not d.startswith("auth"))
    assert sorted(predictions["doc_id"].unique()) == articles  # authored sentences never scored
    assert len(predictions) == (corpus["source"] != "authored").sum()
    assert len(seen) == len(articles) * 2 * 2  # folds x tasks x (model, word baseline)
    for _, docs, _ in seen:
        assert {"auth-a", "auth-b"} <= docs  # authored always in training
        assert len(docs & set(articles)) == len(articles) - 1  # the held-out article is not
    for task in ("topic", "stance"):
        assert (predictions[f"{task}_model"] != "").all()
        assert predictions[f"{task}_model_conf"].between(0, 1).all()
        assert set(metrics[task]) == {"model", "word_baseline", "majority"}
        per_fold_majority = predictions.groupby("doc_id")[f"{task}_majority"].nunique()
        assert (per_fold_majority == 1).all()


def test_include_authored_false_drops_them(corpus, monkeypatch):
    seen = []
    real = evaluate._fit_predict

    def spy(config, task, train, texts, builder=evaluate.build_pipeline, groups=None, **options):
        seen.append(set(train["doc_id"]))
        return real(config, task, train, texts, builder, groups, **options)

    monkeypatch.setattr(evaluate, "_fit_predict", spy)
    cross_validate(corpus, FAST.replace(include_authored=False), tasks=("stance",))
    assert seen and all(not d & {"auth-a", "auth-b"} for d in seen)
    model = fit_model(corpus, FAST.replace(include_authored=False), tasks=("topic",))
    assert "bilateral_relations" not in model.classes("topic")
    assert "bilateral_relations" in fit_model(corpus, FAST, tasks=("topic",)).classes("topic")


def test_real_weight_weighs_real_sentences_only(corpus):
    assert fit.sample_weights(corpus, FAST) == {}  # weight 1: plain fit, as before the option
    weights = fit.sample_weights(corpus, FAST.replace(real_weight=4.0))["clf__sample_weight"]
    assert (weights[corpus["source"].eq("authored").to_numpy()] == 1).all()
    assert (weights[~corpus["source"].eq("authored").to_numpy()] == 4).all()
    svc = TrainConfig(ngram_max=3, learning_curve=False)
    texts = corpus["text"].tolist()
    plain = fit_model(corpus, svc, tasks=("stance",)).predict_proba("stance", texts)
    heavy = fit_model(corpus, svc.replace(real_weight=4.0), tasks=("stance",)).predict_proba("stance", texts)
    assert not np.allclose(plain, heavy)  # the weights reach the classifier and its calibration


def test_parallel_folds_equal_sequential(corpus):
    one = cross_validate(corpus, FAST, tasks=("stance",), n_jobs=1)[1]
    two = cross_validate(corpus, FAST, tasks=("stance",), n_jobs=2)[1]
    pd.testing.assert_frame_equal(one, two)


def test_learning_curve_ends_at_the_loao_score(corpus):
    metrics, _ = cross_validate(corpus, FAST, tasks=("topic",))
    curve = learning_curve(corpus, FAST, tasks=("topic",))
    assert curve["k"] == [1, 2] and curve["n_articles"] == 3
    topic = curve["tasks"]["topic"]
    assert topic["runs"] == [2, 1]  # C(2,1)=2 sets of one article, one set of two
    assert topic["mean"][-1] == pytest.approx(metrics["topic"]["model"]["macro_f1"])
    assert topic["std"][-1] == 0.0


def test_needs_two_articles(corpus):
    one = corpus[corpus["doc_id"].isin([corpus["doc_id"].iloc[0], "auth-a"])]
    with pytest.raises(DataError, match="at least 2 labelled articles"):
        cross_validate(one, FAST)


def test_external_scores_with_training_majority(corpus):
    model = fit_model(corpus, FAST)
    external = pd.DataFrame({"doc_id": ["x", "x", "y"], "text": ["أدانت الكويت الهجوم الإرهابي.",
                                                                 "اضف تعليق", "بحث الوزير التعاون الأمني."],
                             "topic": ["terror_attack", "other", "ct_cooperation"],
                             "stance": ["condemnation", "neutral", "neutral"]})
    result = evaluate_external(corpus, external, FAST, model)
    assert result["n"] == 3 and result["n_docs"] == 2
    train = corpus
    assert result["tasks"]["stance"]["majority"]["label"] == majority_label(train["stance"], "stance")
    assert set(result["tasks"]["topic"]) == {"model", "word_baseline", "majority"}
    assert "أدانت" not in repr(result)  # aggregate scores only: no eval sentence is kept
