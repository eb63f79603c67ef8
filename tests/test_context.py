"""Article context: each sentence's probabilities mixed with its article's mean, where articles are known."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from kwct_ml.bundle.store import save_model
from kwct_ml.cli import predict
from kwct_ml.config import TrainConfig
from kwct_ml.errors import ConfigError
from kwct_ml.inference.tagger import Tagger
from kwct_ml.pipeline.context import article_context
from kwct_ml.pipeline.model import KwctModel, build_pipeline
from kwct_ml.text.segment import segment
from kwct_ml.training import cv as evaluate
from kwct_ml.training.fit import fit_model
from kwct_ml.training.metrics import score


def test_article_context_mixes_each_row_with_its_group_mean():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    q = article_context(p, ["a", "a", "b", "b"], 0.5)
    np.testing.assert_allclose(q, [[0.75, 0.25], [0.25, 0.75], [0.425, 0.575], [0.275, 0.725]])
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    assert article_context(p, None, 0.5) is p
    assert article_context(p, ["a"] * 4, 0.0) is p
    np.testing.assert_allclose(article_context(p, [1, 2, 3, 4], 0.7), p)  # one sentence per article
    with pytest.raises(ValueError, match="groups"):
        article_context(p, ["a", "b"], 0.5)


@pytest.mark.parametrize("key", ["topic_context", "stance_context"])
def test_context_weight_is_validated(key):
    with pytest.raises(ConfigError, match=rf"^{key}:"):
        TrainConfig(**{key: 1.0})
    assert TrainConfig(**{key: 0.4}).context()[key.split("_")[0]] == 0.4


@pytest.fixture(scope="module")
def labelled(repo_dir) -> pd.DataFrame:
    return pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def context_model(labelled) -> KwctModel:
    config = TrainConfig(topic_context=0.6)
    pipes = {t: build_pipeline(config, t).fit(labelled.text.tolist(), labelled[t].tolist())
             for t in ("topic", "stance")}
    return KwctModel(pipes, config.context())


def test_model_uses_context_only_with_groups_and_keeps_it_when_pickled(context_model, labelled):
    texts = labelled.text.tolist()[:30]
    groups = labelled.doc_id.tolist()[:30]
    alone = context_model.predict_proba("topic", texts)
    mixed = context_model.predict_proba("topic", texts, groups)
    assert not np.allclose(alone, mixed)
    np.testing.assert_allclose(mixed, article_context(alone, groups, 0.6))
    np.testing.assert_allclose(context_model.predict_proba("stance", texts, groups),
                               context_model.predict_proba("stance", texts))  # no stance context
    again = pickle.loads(pickle.dumps(context_model))
    np.testing.assert_allclose(again.predict_proba("topic", texts, groups), mixed)
    old = KwctModel.__new__(KwctModel)
    old.__setstate__({"pipelines": context_model.pipelines})  # a model saved before the option
    np.testing.assert_allclose(old.predict_proba("topic", texts, groups), alone)


def test_explain_explains_the_label_predict_gives(context_model, labelled):
    texts, groups = labelled.text.tolist()[:30], labelled.doc_id.tolist()[:30]
    labels, _ = context_model.predict("topic", texts, groups)
    alone, _ = context_model.predict("topic", texts)
    changed = [i for i in range(30) if labels[i] != alone[i]]
    assert changed  # the context moved some labels on these articles
    weights = context_model.class_weights("topic")
    classes = context_model.classes("topic")
    X = context_model.pipelines["topic"][:-1].transform([texts[changed[0]]])
    top = context_model.explain("topic", texts, 1, groups)[changed[0]][0]
    row = X.tocsr().getrow(0)
    label = classes.index(labels[changed[0]])
    contrib = [v * weights[label, j] for j, v in zip(row.indices, row.data, strict=True)]
    assert top[1] == pytest.approx(max(contrib))


def test_tagger_articles_use_context_and_sentences_do_not(context_model, repo_dir):
    tagger = Tagger(context_model)
    text = (repo_dir / "data" / "raw" / "000_0ab1c133074eaba5.txt").read_text(encoding="utf-8")
    sentences = [s.text for s in segment(text)]
    article = [t.topic for t in tagger.tag_article(text, doc_id="a")]
    assert article == context_model.predict("topic", sentences, [0] * len(sentences))[0]
    alone = [t.topic for t in tagger.tag_sentences(sentences, doc_id="a")]
    assert alone == context_model.predict("topic", sentences)[0]
    assert article != alone  # this article has sentences the context relabels


def test_label_suggestions_are_what_predict_gives_the_article(context_model, repo_dir):
    from kwct_ml.labelling.sheet import suggest

    text = (repo_dir / "data" / "raw" / "004_9c1e41bddcf48cae.txt").read_text(encoding="utf-8")
    sentences = [s.text for s in segment(text)]
    found = suggest(context_model, sentences)
    assert found["topic"][0] == [t.topic for t in Tagger(context_model).tag_article(text)]
    assert found["topic"][0] != context_model.predict("topic", sentences)[0]  # the context mattered here


def test_predict_cli_article_unit_uses_context_per_file(context_model, repo_dir, tmp_path):
    model_dir = save_model(context_model, "ctx", tmp_path / "models")
    raw = sorted((repo_dir / "data" / "raw").glob("*.txt"))[:2]
    out = tmp_path / "out.csv"
    assert predict.main([*map(str, raw), "--output", str(out), "--model", str(model_dir)]) == 0
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    tagger = Tagger(context_model)
    expected = [t.topic for p in raw for t in tagger.tag_article(p.read_text(encoding="utf-8"))]
    assert rows["topic"].tolist() == expected  # each file is its own article, whatever the batch
    loaded = Tagger.load(model_dir)
    assert loaded.model.context == {"topic": 0.6}


def test_a_bad_context_in_the_manifest_is_refused(context_model, tmp_path):
    import json

    from kwct_ml.bundle.store import load_model
    from kwct_ml.errors import ModelError

    model_dir = save_model(context_model, "ctx", tmp_path / "models")
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    for bad in ({"topic": 1.5}, {"mood": 0.2}, [0.3], {"topic": "x"}):
        (model_dir / "manifest.json").write_text(json.dumps({**manifest, "context": bad}), encoding="utf-8")
        with pytest.raises(ModelError, match="'context' must map"):
            load_model(model_dir)


@pytest.mark.slow
def test_evaluation_passes_each_held_out_article_as_one_group(labelled, monkeypatch):
    seen = []
    real = evaluate._fit_predict

    def spy(config, task, train, texts, builder=evaluate.build_pipeline, groups=None, **options):
        seen.append((builder is evaluate.build_pipeline, groups, len(texts)))
        return real(config, task, train, texts, builder, groups, **options)

    monkeypatch.setattr(evaluate, "_fit_predict", spy)
    corpus = labelled.assign(source="seed")
    evaluate.cross_validate(corpus, TrainConfig(topic_context=0.5, ngram_max=3), tasks=("topic",))
    assert seen and all(len(set(g)) == 1 and len(g) == n for _, g, n in seen)


def test_evaluation_gives_the_context_to_the_model_only_and_says_so_explicitly(labelled):
    train, test = labelled.iloc[:-30], labelled.iloc[-30:]
    texts, groups = test.text.tolist(), test.doc_id.tolist()
    config = TrainConfig(ngram_max=3, topic_context=0.6)
    on = evaluate._fit_predict(config, "topic", train, texts, evaluate.build_pipeline, groups, context=True)
    off = evaluate._fit_predict(config, "topic", train, texts, evaluate.build_pipeline, groups)
    plain = evaluate._fit_predict(config.replace(topic_context=0.0), "topic", train, texts,
                                  evaluate.build_pipeline, groups, context=True)
    np.testing.assert_allclose(off[1], plain[1])  # context=False: as if the config had none
    assert not np.allclose(on[1], off[1])


def test_model_refuses_bad_weights_and_drops_moot_ones(context_model):
    pipes = context_model.pipelines
    for bad in (1.0, -0.1, float("nan"), "0.5", False):
        with pytest.raises(ValueError, match="context"):
            KwctModel(pipes, {"topic": bad})
    only_topic = KwctModel({"topic": pipes["topic"]}, {"topic": 0.3, "stance": 0.4})
    assert only_topic.context == {"topic": 0.3}  # saved and loaded without a dangling stance weight


def test_groups_are_checked_even_where_no_weight_applies(context_model, labelled):
    texts = labelled.text.tolist()[:3]
    with pytest.raises(ValueError, match="groups"):
        context_model.predict("stance", texts, ["a", "b"])  # stance has no context weight
    with pytest.raises(TypeError, match="one string"):
        context_model.predict("topic", texts, "abc")


def test_train_stores_the_context_in_the_manifest(tmp_path, small_data):
    from kwct_ml.bundle.store import load_model
    from kwct_ml.cli import train

    config = tmp_path / "ctx.toml"
    config.write_text(TrainConfig(ngram_max=3, learning_curve=False, topic_context=0.4,
                                  topic_context_temperature=0.8).to_toml(), encoding="utf-8")
    assert train.main(["--config", str(config), "--data-dir", str(small_data), "--models-dir",
                       str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs"), "--no-report"]) == 0
    model, manifest = load_model(tmp_path / "models" / "latest")
    assert manifest["context"] == {"topic": 0.4} and model.context == {"topic": 0.4}
    assert manifest["context_temperature"] == {"topic": 0.8} and model.temperature == {"topic": 0.8}


def _eval_scores(context_model, labelled, tmp_path, with_doc: bool) -> dict:
    from kwct_ml.corpus.dataset import load_eval_set

    path = tmp_path / f"eval_{with_doc}.tsv"
    columns = ["doc_id", "text", "topic", "stance"] if with_doc else ["text", "topic", "stance"]
    labelled[columns].to_csv(path, sep="\t", index=False)
    frame = load_eval_set(path)
    config = TrainConfig(topic_context=0.6)
    return evaluate.evaluate_external(labelled.assign(source="seed"), frame, config, context_model,
                                      tasks=("topic",))["tasks"]["topic"]["model"]


def test_eval_sets_use_article_context_only_when_they_name_articles(context_model, labelled, tmp_path):
    texts, gold = labelled.text.tolist(), labelled.topic.tolist()
    groups = labelled.doc_id.tolist()
    by_article = score("topic", gold, context_model.predict("topic", texts, groups)[0])
    alone = score("topic", gold, context_model.predict("topic", texts)[0])
    assert by_article["macro_f1"] != alone["macro_f1"]
    assert _eval_scores(context_model, labelled, tmp_path, True)["macro_f1"] == by_article["macro_f1"]
    assert _eval_scores(context_model, labelled, tmp_path, False)["macro_f1"] == alone["macro_f1"]


def test_predict_sentence_rows_stand_alone(context_model, labelled, tmp_path):
    model_dir = save_model(context_model, "ctx", tmp_path / "models")
    table = tmp_path / "rows.csv"
    labelled[["doc_id", "text"]].to_csv(table, index=False)
    out = tmp_path / "rows_out.csv"
    assert predict.main([str(table), "--output", str(out), "--model", str(model_dir)]) == 0
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    texts = labelled.text.tolist()
    assert rows["topic"].tolist() == context_model.predict("topic", texts)[0]
    assert rows["topic"].tolist() != context_model.predict("topic", texts, labelled.doc_id.tolist())[0]


# --------------------------------------------------------------------------- sharpening after the mix

def test_temperature_sharpens_the_mix_without_changing_any_label():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])
    groups = ["a", "a", "b", "b"]
    flat = article_context(p, groups, 0.5)
    sharp = article_context(p, groups, 0.5, temperature=0.7)
    np.testing.assert_allclose(sharp.sum(axis=1), 1.0)
    assert (sharp.argmax(axis=1) == flat.argmax(axis=1)).all()
    assert (sharp.max(axis=1) > flat.max(axis=1)).all()
    expected = flat ** (1 / 0.7) / (flat ** (1 / 0.7)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sharp, expected)
    np.testing.assert_allclose(article_context(p, groups, 0.5, temperature=1.0), flat)
    assert article_context(p, None, 0.5, temperature=0.7) is p  # no article, no mix, no sharpening


def test_a_sentence_alone_in_its_article_is_not_sharpened():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])
    np.testing.assert_allclose(article_context(p, [1, 2, 3], 0.5, temperature=0.7), p)
    mixed = article_context(p, ["a", "b", "b"], 0.5, temperature=0.7)
    np.testing.assert_allclose(mixed[0], p[0])  # its own article: calibrated p as it is
    np.testing.assert_allclose(mixed[1:], article_context(p[1:], ["b", "b"], 0.5, temperature=0.7))
    assert not np.allclose(mixed[1:], article_context(p[1:], ["b", "b"], 0.5))


@pytest.mark.parametrize("key", ["topic_context_temperature", "stance_context_temperature"])
def test_context_temperature_is_validated(key):
    for bad in (0.0, -1.0, 0.01, 50.0, float("inf"), float("nan")):  # 1e-320 or 1e300 break the maths
        with pytest.raises(ConfigError, match=rf"^{key}:"):
            TrainConfig(**{key: bad})
    for good in (0.05, 0.5, 20.0):
        assert TrainConfig(**{key: good}).context_temperature()[key.split("_")[0]] == good


@pytest.mark.slow
def test_the_configured_temperature_reaches_the_model_and_its_evaluation(labelled):
    corpus = labelled.assign(source="seed")
    config = TrainConfig(ngram_max=3, topic_context=0.5, topic_context_temperature=0.6)
    assert fit_model(corpus, config).temperature == {"topic": 0.6}
    sharp, _ = evaluate.cross_validate(corpus, config, tasks=("topic",))
    flat, _ = evaluate.cross_validate(corpus, config.replace(topic_context_temperature=1.0), tasks=("topic",))
    assert sharp["topic"]["model"]["macro_f1"] == flat["topic"]["model"]["macro_f1"]
    assert sharp["topic"]["model"]["mean_confidence"] > flat["topic"]["model"]["mean_confidence"]


def test_model_sharpens_only_where_the_context_applies(context_model, labelled):
    texts, groups = labelled.text.tolist()[:30], labelled.doc_id.tolist()[:30]
    sharp = KwctModel(context_model.pipelines, context_model.context, {"topic": 0.7, "stance": 0.5})
    assert sharp.temperature == {"topic": 0.7}  # stance has no article context to sharpen
    mixed = context_model.predict_proba("topic", texts, groups)
    np.testing.assert_allclose(sharp.predict_proba("topic", texts, groups),
                               article_context(context_model.predict_proba("topic", texts), groups, 0.6, 0.7))
    assert sharp.predict("topic", texts, groups)[0] == context_model.predict("topic", texts, groups)[0]
    assert (sharp.predict("topic", texts, groups)[1] > context_model.predict("topic", texts, groups)[1]).all()
    alone = context_model.predict_proba("topic", texts)
    np.testing.assert_allclose(sharp.predict_proba("topic", texts), alone)  # sentences alone: unchanged
    ours = sharp.predict_proba("topic", texts, groups)
    assert not np.allclose(ours, mixed)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(sharp)).predict_proba("topic", texts, groups), ours)
    for bad in (0, -0.5, 1e-320, 1e300, float("nan"), float("inf"), True, "0.7"):
        with pytest.raises(ValueError, match="temperature"):
            KwctModel(context_model.pipelines, context_model.context, {"topic": bad})


def test_the_temperature_survives_save_and_load_and_a_bad_one_is_refused(context_model, labelled, tmp_path):
    import json

    from kwct_ml.bundle.store import load_model
    from kwct_ml.errors import ModelError

    texts, groups = labelled.text.tolist()[:30], labelled.doc_id.tolist()[:30]
    sharp = KwctModel(context_model.pipelines, context_model.context, {"topic": 0.7})
    model_dir = save_model(sharp, "sharp", tmp_path / "models")
    loaded, manifest = load_model(model_dir)
    assert manifest["context_temperature"] == {"topic": 0.7} and loaded.temperature == {"topic": 0.7}
    np.testing.assert_allclose(loaded.predict_proba("topic", texts, groups),
                               sharp.predict_proba("topic", texts, groups))
    for bad in ({"topic": 0}, {"topic": 1e-320}, {"stance": 0.7}, {"topic": "x"}, [0.7], {"topic": True}):
        (model_dir / "manifest.json").write_text(json.dumps({**manifest, "context_temperature": bad}),
                                                 encoding="utf-8")
        with pytest.raises(ModelError, match="'context_temperature' must map"):
            load_model(model_dir)
    del manifest["context_temperature"]  # a model saved before the option: no sharpening
    (model_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    old, _ = load_model(model_dir)
    np.testing.assert_allclose(old.predict_proba("topic", texts, groups),
                               context_model.predict_proba("topic", texts, groups))


def test_sentence_table_with_article_column_gets_the_article_context(context_model, labelled, tmp_path,
                                                                      monkeypatch):
    """Rows sharing --article-column are one article (as tag_article), even across work items."""
    from kwct_ml.inference import batch

    monkeypatch.setattr(batch, "SENTENCE_ROWS_PER_ITEM", 7)  # articles longer than an item stay whole
    model_dir = save_model(context_model, "ctx", tmp_path / "models")
    rows = labelled[labelled["doc_id"].isin(sorted(set(labelled["doc_id"]))[:2])]
    table = tmp_path / "sentences.csv"
    rows[["doc_id", "text"]].rename(columns={"doc_id": "story"}).to_csv(table, index=False)
    out, alone = tmp_path / "out.csv", tmp_path / "alone.csv"
    common = ["--model", str(model_dir), "--unit", "sentence"]
    assert predict.main([str(table), "--output", str(out), "--article-column", "story", *common]) == 0
    assert predict.main([str(table), "--output", str(alone), *common]) == 0
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    tagger = Tagger(context_model)
    expected = tagger.tag_sentences(rows["text"].tolist(), articles=rows["doc_id"].tolist())
    assert got["topic"].tolist() == [t.topic for t in expected]
    assert got["topic_score"].astype(float).tolist() == [t.topic_score for t in expected]
    assert got["doc_id"].tolist() == rows["doc_id"].tolist()  # doc_id: the article column's value
    assert got["topic_score"].tolist() != pd.read_csv(alone, dtype=str)["topic_score"].tolist()
    assert predict.main([str(table), "--output", str(tmp_path / "x.csv"), "--article-column", "nope",
                         *common]) == 2
