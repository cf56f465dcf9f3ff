"""Adapter model cards, evaluation results (model-index and .eval_results) and card validation."""

from __future__ import annotations

import shutil

import pytest
import yaml
from huggingface_hub import DatasetCard, ModelCard, metadata_load, metadata_save, parse_eval_result_entries

from instructerc.hub.adapter_card import make_adapter_card
from instructerc.hub.card_validation import read_eval_results, validate_card
from instructerc.hub.errors import CardError
from instructerc.hub.eval_results import write_eval_results
from instructerc.hub.scores import EvalScore, as_scores


FAKE_TOKEN = "hf_" + "Q" * 34

RESULTS = [
    {"dataset_id": "instructerc/meld", "config": "plain", "split": "test", "weighted_f1": 0.6123, "accuracy": 0.65},
    {"dataset_id": "instructerc/iemocap", "config": "plain", "split": "test", "metrics": {"weighted_f1": 0.71}},
    EvalScore(dataset_id="instructerc/iemocap", config="plain", split="validation", metric="accuracy", value=0.7),
]


def _adapter_folder(tmp_path, **kwargs):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    card = make_adapter_card(
        base_model="meta-llama/Llama-2-7b-hf",
        datasets=["instructerc/unified"],
        recipe={
            "learning_rate": 2e-4,
            "lora": {"r": 16, "target_modules": ["q_proj", "v_proj"]},
            "hub_token": FAKE_TOKEN,
            "eos_token": "<|im_end|>",  # a setting, not a credential: the card's recipe keeps it as recipe.yaml does
        },
        repo_id="instructerc/llama-lora",
        **kwargs,
    )
    card.save(folder / "README.md")
    return folder


def test_adapter_card_carries_the_hub_metadata(tmp_path):
    folder = _adapter_folder(tmp_path, eval_results=RESULTS[:1])
    card = validate_card(folder, "model")  # parses with ModelCard.load and round-trips
    data = card.data
    assert data.base_model == "meta-llama/Llama-2-7b-hf"
    assert data.library_name == "peft" and data.pipeline_tag == "text-generation"
    assert data.datasets == ["instructerc/unified"]
    assert {"peft", "lora", "instructerc"} <= set(data.tags)
    # the unified dataset derives from all three benchmarks: the licence guard must see IEMOCAP
    assert metadata_load(folder / "README.md")["instructerc_sources"] == ["iemocap", "meld", "emorynlp"]
    assert {(r.dataset_type, r.dataset_split, r.metric_type, r.metric_value) for r in data.eval_results} == {
        ("instructerc/meld", "test", "f1", 0.6123),
        ("instructerc/meld", "test", "accuracy", 0.65),
    }
    text = (folder / "README.md").read_text()
    assert "learning_rate: 0.0002" in text and "target_modules" in text  # the recipe
    assert "eos_token: <|im_end|>" in text
    assert FAKE_TOKEN not in text and "hub_token" not in text
    assert "gpl-3.0" in text and "apache-2.0" in text and "USC SAIL" in text  # each source's licence
    assert "| instructerc/meld | plain | test | 61.23 | 65.00 |" in text
    assert 'PeftModel.from_pretrained(base, "instructerc/llama-lora")' in text


def test_explicit_sources_and_no_benchmark_data(tmp_path):
    card = make_adapter_card(base_model="org/base", datasets=["me/my-chats"], sources=["MELD"])
    assert card.data.to_dict()["instructerc_sources"] == ["meld"]
    card = make_adapter_card(base_model="org/base", datasets=["me/my-chats"])
    assert "instructerc_sources" not in card.data.to_dict()


def test_write_eval_results_writes_both_formats_and_is_idempotent(tmp_path):
    folder = _adapter_folder(tmp_path)
    written = write_eval_results(folder, RESULTS)
    assert sorted(p.relative_to(folder).as_posix() for p in written) == [
        ".eval_results/instructerc__iemocap.yaml",
        ".eval_results/instructerc__meld.yaml",
        "README.md",
    ]
    card = ModelCard.load(folder / "README.md")
    model_index = {
        (r.dataset_type, r.dataset_config, r.dataset_split, r.metric_name): r.metric_value
        for r in card.data.eval_results
    }
    assert model_index == {
        ("instructerc/meld", "plain", "test", "Weighted F1"): 0.6123,
        ("instructerc/meld", "plain", "test", "Accuracy"): 0.65,
        ("instructerc/iemocap", "plain", "test", "Weighted F1"): 0.71,
        ("instructerc/iemocap", "plain", "validation", "Accuracy"): 0.7,
    }
    meld = parse_eval_result_entries(yaml.safe_load((folder / ".eval_results/instructerc__meld.yaml").read_text()))
    assert {(e.dataset_id, e.task_id, e.value) for e in meld} == {
        ("instructerc/meld", "plain_test_weighted_f1", 0.6123),
        ("instructerc/meld", "plain_test_accuracy", 0.65),
    }
    assert len(read_eval_results(folder)) == 4
    validate_card(folder, "model")

    before = {p: p.read_bytes() for p in written}
    write_eval_results(folder, RESULTS)  # same results again: byte-identical folder
    assert {p: p.read_bytes() for p in written} == before

    update = {"dataset_id": "instructerc/meld", "config": "plain", "split": "test", "accuracy": 0.66}
    write_eval_results(folder, [update])
    card = ModelCard.load(folder / "README.md")
    accuracy = [
        r.metric_value
        for r in card.data.eval_results
        if r.dataset_type == "instructerc/meld" and r.metric_type == "accuracy"
    ]
    assert accuracy == [0.66]  # replaced, not duplicated
    assert len(card.data.eval_results) == 4
    assert "| instructerc/meld | plain | test | 61.23 | 66.00 |" in (folder / "README.md").read_text()


def test_per_source_metrics_of_a_unified_evaluation(tmp_path):
    """`weighted_f1_<source>` keys (as eval/ reports them) keep their source through both formats."""
    folder = _adapter_folder(tmp_path)
    metrics = {"weighted_f1": 0.6, "accuracy": 0.62, "weighted_f1_meld": 0.55, "weighted_f1_iemocap": 0.7}
    write_eval_results(
        folder, [{"dataset_id": "instructerc/unified", "config": "plain", "split": "test", "metrics": metrics}]
    )
    card = validate_card(folder, "model")
    by_name = {r.metric_name: (r.metric_type, r.metric_args, r.metric_value) for r in card.data.eval_results}
    assert by_name["Weighted F1 (meld)"] == ("f1", {"average": "weighted", "source": "meld"}, 0.55)
    assert by_name["Weighted F1"] == ("f1", {"average": "weighted"}, 0.6)
    tasks = {e.task_id: e.value for e in read_eval_results(folder)}
    assert tasks["plain_test_weighted_f1_iemocap"] == 0.7 and tasks["plain_test_weighted_f1"] == 0.6
    assert "| instructerc/unified | plain | test | 60.00 | 62.00 | 70.00 | 55.00 |" in card.text
    before = (folder / "README.md").read_bytes()
    write_eval_results(folder, [])  # re-reading the card's model-index gives back the same keys
    assert (folder / "README.md").read_bytes() == before


def test_intervals_and_seeds_in_both_formats(tmp_path):
    """A run's interval and seed, and a recipe's mean over seeds, as model-index args, .eval_results
    notes and the card's table; re-reading the card gives them back unchanged."""
    import statistics

    folder = _adapter_folder(tmp_path)
    boot = {
        "method": "percentile",
        "unit": "dialogue",
        "n_resamples": 1000,
        "seed": 0,
        "confidence_level": 0.95,
        "units": 280,
    }
    run = {
        "dataset_id": "instructerc/meld",
        "config": "plain",
        "split": "test",
        "seeds": [43],
        "metrics": {"weighted_f1": 0.714, "accuracy": 0.7},
        "bootstrap": boot,
        "intervals": {"weighted_f1": {"low": 0.701, "high": 0.726, "standard_error": 0.006}},
    }
    values = [0.704, 0.713, 0.719]
    mean = statistics.fmean(values)
    seeds = {
        "dataset_id": "instructerc/meld",
        "config": "plain",
        "split": "test",
        "seeds": [42, 43, 44],
        "metrics": {"weighted_f1": mean},
        "seed_values": {"weighted_f1": values},
    }
    write_eval_results(folder, [run, seeds])
    card = validate_card(folder, "model")
    by_name = {r.metric_name: r for r in card.data.eval_results}
    single, over = by_name["Weighted F1"], by_name["Weighted F1 (mean of 3 seeds)"]
    assert single.metric_value == 0.714 and single.metric_args == {
        "average": "weighted",
        "confidence_interval": {"low": 0.701, "high": 0.726, **boot},
        "seeds": [43],
    }
    assert over.metric_value == mean and over.metric_args["seed_values"] == values
    assert over.metric_args["seed_std"] == pytest.approx(statistics.stdev(values))
    assert by_name["Accuracy"].metric_args == {"seeds": [43]}  # no interval given for it
    text = card.text
    assert "| instructerc/meld | plain | test | 71.40 [70.10, 72.60] | 70.00 | 1 training seed (43) |" in text
    std = 100 * statistics.stdev(values)
    assert f"| instructerc/meld | plain | test | {100 * mean:.2f} ± {std:.2f} (70.40, 71.30, 71.90) |  | " in text
    assert "Brackets: 95% percentile bootstrap interval over 280 dialogues; 1000 resamples, seed 0." in text
    notes = {e.task_id: e.notes for e in read_eval_results(folder)}
    assert (
        "71.40 [70.10, 72.60], 95% percentile bootstrap interval over 280 dialogues" in notes["plain_test_weighted_f1"]
    )
    assert (
        f"{100 * mean:.2f} ± {std:.2f} (70.40, 71.30, 71.90); "
        "mean ± standard deviation of 3 training seeds (42, 43, 44)" in notes["plain_test_weighted_f1_mean_over_seeds"]
    )
    before = {p: p.read_bytes() for p in [folder / "README.md", *(folder / ".eval_results").glob("*.yaml")]}
    write_eval_results(folder, [])  # parsed back from the card: the same card, byte for byte
    assert {p: p.read_bytes() for p in before} == before
    # another split, another number of dialogues: one sentence names both
    validation = {**run, "split": "validation", "bootstrap": {**boot, "units": 114}}
    text = ModelCard.load(write_eval_results(folder, [validation])[0]).text
    assert "interval over the dialogues of each split (test: 280, validation: 114); 1000 resamples, seed 0." in text


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            {
                "dataset_id": "d/x",
                "split": "test",
                "metric": "accuracy",
                "value": 0.5,
                "interval": {"low": 0.6, "high": 0.4},
            },
            "above high",
        ),
        (
            {"dataset_id": "d/x", "split": "test", "metric": "accuracy", "value": 0.5, "interval": [0.4, 0.6]},
            "`low` and `high`",
        ),
        (
            {"dataset_id": "d/x", "split": "test", "metric": "accuracy", "value": 0.5, "seed_values": [0.5, 0.5]},
            "need `seeds`",
        ),
        ({"dataset_id": "d/x", "split": "test", "accuracy": 0.5, "seeds": ["42"]}, "list of integers"),
        ({"dataset_id": "d/x", "split": "test", "accuracy": float("nan")}, "not a finite number"),
        ({"split": "test", "accuracy": 0.5}, "needs `dataset_id`"),
        ({"dataset_id": "d/x", "split": "test"}, "no metric value"),
        ({"dataset_id": "d/x", "split": "test", "metric": "accuracy", "value": "high"}, "not a finite number"),
    ],
)
def test_bad_eval_results_are_refused(bad, message):
    with pytest.raises(CardError, match=message):
        as_scores([bad])


def test_write_eval_results_needs_a_card(tmp_path):
    with pytest.raises(CardError, match="no README.md"):
        write_eval_results(tmp_path, RESULTS)


def test_builder_dataset_cards_validate(small_build):
    for name, folder in small_build.items():
        card = validate_card(folder, "dataset")
        assert isinstance(card, DatasetCard) and card.data.license, name
        assert [c["config_name"] for c in card.data.configs]


def _mutated_card(tmp_path, source, kind, mutate):
    folder = tmp_path / "repo"
    shutil.copytree(source, folder)
    mutate(folder / "README.md")
    with pytest.raises(CardError) as refused:
        validate_card(folder, kind)
    assert "\n" not in str(refused.value)
    return str(refused.value)


def _edit_metadata(**changes):
    def mutate(readme):
        data = metadata_load(readme)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        metadata_save(readme, data)

    return mutate


def test_invalid_dataset_cards_are_refused(tmp_path, small_build):
    source = small_build["meld"]
    assert "no `license`" in _mutated_card(tmp_path / "a", source, "dataset", _edit_metadata(license=None))
    missing = [{"config_name": "plain", "data_files": [{"split": "test", "path": "data/nope/test-*.parquet"}]}]
    assert "matches no file" in _mutated_card(tmp_path / "b", source, "dataset", _edit_metadata(configs=missing))
    # patterns pathlib cannot glob are refused in one line too, an absolute one (a path of this machine) among them
    train = next((source / "data" / "plain").glob("train-*.parquet"))
    for n, pattern in enumerate([str(train), "", "data/**.parquet", "../meld/data/plain/*.parquet"]):
        odd = [{"config_name": "plain", "data_files": [{"split": "train", "path": pattern}]}]
        message = _mutated_card(tmp_path / f"b{n}", source, "dataset", _edit_metadata(configs=odd))
        assert f"lists {pattern!r}, which matches no file" in message
    broken = lambda readme: readme.write_text("---\nlicense: [unclosed\n---\n# x\n")  # noqa: E731
    assert "does not parse" in _mutated_card(tmp_path / "c", source, "dataset", broken)
    leak = lambda readme: readme.write_text(readme.read_text() + f"\ntoken: {FAKE_TOKEN}\n")  # noqa: E731
    message = _mutated_card(tmp_path / "d", source, "dataset", leak)
    assert "access token" in message and FAKE_TOKEN not in message
    not_a_list = _edit_metadata(instructerc_sources={"iemocap": True})
    assert "must be a list" in _mutated_card(tmp_path / "e", source, "dataset", not_a_list)
    validate_card(source, "dataset")  # the shared build itself was not touched


def test_invalid_model_cards_are_refused(tmp_path):
    source = _adapter_folder(tmp_path, eval_results=RESULTS[:1])
    local_base = _edit_metadata(base_model="/home/me/checkpoints/llama")
    assert "`base_model`" in _mutated_card(tmp_path / "a", source, "model", local_base)
    assert "`base_model`" in _mutated_card(tmp_path / "b", source, "model", _edit_metadata(base_model=None))
    not_peft = _edit_metadata(library_name="transformers")
    assert "library_name: peft" in _mutated_card(tmp_path / "c", source, "model", not_peft)
    bad_index = _edit_metadata(**{"model-index": [{"name": "x", "results": [{"dataset": {"type": "d"}}]}]})
    assert "does not parse" in _mutated_card(tmp_path / "d", source, "model", bad_index)

    def bad_eval_file(readme):
        (readme.parent / ".eval_results").mkdir()
        (readme.parent / ".eval_results" / "x.yaml").write_text("- value: 1\n")

    assert "not a valid eval results file" in _mutated_card(tmp_path / "e", source, "model", bad_eval_file)
