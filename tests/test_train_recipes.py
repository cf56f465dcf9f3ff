"""Recipes and the data path of train/sft.py: every shipped recipe and accelerate config parses; a bad
recipe fails in seconds, before any model is loaded, with one line naming the field; mixtures and the
max_length policy do what they say on real built data."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from instructerc.builders.pipeline import split_file
from instructerc.builders.reading import load_split
from instructerc.train.config import ERCScriptArguments, RecipeError, parse_recipe
from instructerc.train.data import fit_max_length, load_erc_data, sample_weighted, token_lengths
from instructerc.train.sft import main


REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "train" / "recipes"
MODEL_RECIPES = sorted(p for p in RECIPES.rglob("*.yaml") if "accelerate_configs" not in p.parts)
NO_MODEL = "/nonexistent/model-that-must-never-be-loaded"
# TrainingArguments refuses bf16 without a GPU: the GPU recipes parse here with bf16 turned off.
ON_THIS_MACHINE = [] if torch.cuda.is_available() else ["--bf16", "false"]


@pytest.mark.parametrize("path", MODEL_RECIPES, ids=lambda p: str(p.relative_to(RECIPES)))
def test_every_recipe_parses_and_says_what_it_reproduces(path):
    script_args, training_args, model_args = parse_recipe(["--config", str(path), *ON_THIS_MACHINE])
    assert script_args.dataset_name and model_args.model_name_or_path and training_args.output_dir
    assert script_args.recipe_keys[: len(yaml.safe_load(path.read_text()))] == list(yaml.safe_load(path.read_text()))
    assert path.read_text().startswith(("# Reproduces", "# Tiny LLaMA", "# SmolLM2-135M-Instruct"))
    assert (
        "eproduces" in path.read_text().split("\n\n")[0]
    )  # the header says what it reproduces, or that it reproduces none
    if training_args.load_best_model_at_end:
        assert training_args.metric_for_best_model == "weighted_f1"


def test_llama_lora_recipes_use_the_official_lora_settings():
    # main_new.py defaults and train_and_inference_*.sh of LIN-SHANG/InstructERC
    lora = [p for p in MODEL_RECIPES if p.parent.name == "llama-2-7b" and p.name.endswith("-lora.yaml")]
    assert len(lora) >= 8
    for path in lora:
        script_args, training_args, model_args = parse_recipe(["--config", str(path), *ON_THIS_MACHINE])
        assert (model_args.lora_r, model_args.lora_alpha, model_args.lora_dropout) == (16, 16, 0.05), path.name
        assert model_args.lora_target_modules == ["q_proj", "k_proj", "v_proj"], path.name
        assert training_args.learning_rate == 2e-4, path.name
        assert training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps == 32
        assert model_args.use_peft != bool(script_args.init_adapter), path.name


def test_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    configs = {p.stem: load_config_from_file(str(p)) for p in (RECIPES / "accelerate_configs").glob("*.yaml")}
    assert {"single_gpu", "multi_gpu", "deepspeed_zero2", "deepspeed_zero3", "fsdp", "multi_node"} <= set(configs)
    assert configs["deepspeed_zero3"].deepspeed_config["zero_stage"] == 3
    assert configs["multi_node"].num_machines == 2
    readme = (RECIPES / "README.md").read_text()
    for name in configs:
        assert f"{name}.yaml" in readme, f"{name}.yaml is missing from the README table"


def write_recipe(tmp_path, small_build, **overrides) -> Path:
    recipe = {
        "model_name_or_path": NO_MODEL,
        "dataset_name": str(small_build["iemocap"]),
        "dataset_config": "plain",
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "bf16": False,  # a CPU recipe (TRL's default bf16: true is refused on CPUs without bf16 units)
        "report_to": "none",
        **overrides,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in recipe.items() if v is not None}))
    return path


@pytest.mark.parametrize(
    "overrides, extra_argv, field",
    [
        ({"learning_rte": 1e-4}, [], "learning_rte"),  # a typo in the YAML
        ({}, ["--lora_rank", "8"], "lora_rank"),  # a typo on the command line
        ({"dataset_config": "retrieval"}, [], "dataset_config"),
        ({"dataset_mixture": {"plain": 1.0, "speakers": 0.5}}, [], "dataset_mixture"),
        ({"dataset_mixture": {"plain": 0}}, [], "dataset_mixture"),
        ({"dataset_eval_split": "valid", "eval_strategy": "epoch"}, [], "dataset_eval_split"),
        ({"eval_config": "emotions"}, [], "eval_config"),
        ({"dataset_name": "/nonexistent/dataset"}, [], "dataset_name"),
        ({"dataset_name": None}, [], "dataset_name"),
        ({"push_to_hub": True}, [], "hub_model_id"),
        ({"overlong": "truncate"}, [], "overlong"),
    ],
)
def test_bad_recipe_fails_before_any_model_is_loaded(tmp_path, small_build, capsys, overrides, extra_argv, field):
    recipe = write_recipe(tmp_path, small_build, **overrides)
    # The model path does not exist: reaching a model (or tokenizer) load would raise something else.
    assert main(["--config", str(recipe), *extra_argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1]
    assert field in errors[0]
    assert not (tmp_path / "out").exists()


def test_overlong_rows_with_overlong_error_stop_before_the_model_loads(tmp_path, small_build, tiny_model_dir, capsys):
    recipe = write_recipe(
        tmp_path, small_build, model_name_or_path=str(tiny_model_dir), max_length=64, overlong="error"
    )
    n = len(load_split(str(small_build["iemocap"]), "plain", "train"))  # every IEMOCAP prompt is > 64 tokens
    assert main(["--config", str(recipe)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"error: max_length: train: {n} of {n} rows are longer than max_length=64")
    assert not (tmp_path / "out").exists()


def test_missing_model_is_one_line_naming_the_field(tmp_path, small_build, capsys):
    assert main(["--config", str(write_recipe(tmp_path, small_build))]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: model_name_or_path: no tokenizer at")


def test_a_label_column_that_disagrees_with_the_completions_is_refused(small_build, tmp_path):
    import shutil

    folder = tmp_path / "instructerc" / "iemocap"
    shutil.copytree(small_build["iemocap"], folder)
    path = split_file(folder, "plain", "validation")
    ds = load_split(str(small_build["iemocap"]), "plain", "validation")
    shifted = ds.map(lambda row: {"label": (row["label"] + 1) % 6}, features=ds.features)
    shifted.to_parquet(str(path))
    args = ERCScriptArguments(dataset_name=str(folder), dataset_config="plain")
    with pytest.raises(RecipeError, match=r"^dataset_name: row 0 of .* has completion .* but label"):
        load_erc_data(args)
    ds.remove_columns("label").to_parquet(str(path))  # not a build: no gold label to score
    with pytest.raises(RecipeError, match=r"^dataset_name: .* has no ClassLabel column 'label'"):
        load_erc_data(args)
    # the speaker config's gold labels are speakers, and agree with its completions
    speaker = ERCScriptArguments(dataset_name=str(small_build["iemocap"]), dataset_config="speaker")
    assert load_erc_data(speaker).labels == ["Speaker_0", "Speaker_1"]


def test_mixture_takes_weighted_rows_of_each_config(small_build):
    name = str(small_build["iemocap"])
    n = {c: len(load_split(name, c, "train")) for c in ("plain", "prediction", "speaker")}
    args = ERCScriptArguments(dataset_name=name, dataset_mixture='{"plain": 1.0, "prediction": 0.5, "speaker": 2}')
    data = load_erc_data(args, seed=3)
    assert len(data.train) == n["plain"] + round(0.5 * n["prediction"]) + 2 * n["speaker"]
    assert data.train.column_names == ["prompt", "completion"]
    assert data.eval_config == "plain"  # selection on the emotion-recognition config of the mixture
    prompts = data.train["prompt"]
    assert sum("predict the emotion states" in p for p in prompts) == round(0.5 * n["prediction"])
    assert sum("Speaker label of the utterance" in p for p in prompts) == 2 * n["speaker"]
    again = load_erc_data(args, seed=3)
    assert again.train["prompt"] == prompts  # seeded
    # a smoke run's max_train_samples samples the mixed rows: every config is in it, not only the first
    args.max_train_samples = 60
    few = load_erc_data(args, seed=3).train["prompt"]
    assert len(few) == 60 and any("predict the emotion states" in p for p in few)
    assert any("Speaker label of the utterance" in p for p in few)


def test_sample_weighted_repeats_then_samples(small_build):
    ds = load_split(str(small_build["iemocap"]), "plain", "validation").select(range(10))
    picked = sample_weighted(ds, 2.5, seed=0)
    assert len(picked) == 25
    counts = {t: picked["turn"].count(t) for t in set(ds["turn"])}
    assert sorted(counts.values()) == [2] * 5 + [3] * 5


def test_local_builds_with_the_same_name_never_share_a_cache_entry(raw_dir, tmp_path):
    """datasets keys load_dataset(folder, config) by folder name and file patterns: two builds called
    iemocap would share rows. load_split reads each folder's own files."""
    from instructerc.builders.pipeline import build_datasets

    a = build_datasets(raw_dir, tmp_path / "a", ["iemocap"], max_dialogues=1, configs=("plain",), progress=False)
    b = build_datasets(raw_dir, tmp_path / "b", ["iemocap"], max_dialogues=2, configs=("plain",), progress=False)
    rows = [len(load_split(str(x["iemocap"]), "plain", "train")) for x in (a, b, a)]
    assert rows[0] == rows[2] < rows[1]


def test_overlong_rows_are_dropped_or_left_truncated_never_cut_at_the_label(
    small_build, tiny_model_dir, caplog, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ds = load_split(str(small_build["iemocap"]), "plain", "train")
    lengths = token_lengths(ds, tok)
    # the same count as SFTTrainer's own tokenization: prompt + completion + EOS with <s>
    assert lengths[0] == len(tok(ds[0]["prompt"] + ds[0]["completion"] + tok.eos_token)["input_ids"])
    limit = int(sorted(lengths)[len(lengths) // 2])
    over = int((lengths > limit).sum())
    assert 0 < over < len(ds)
    with caplog.at_level(logging.WARNING, logger="instructerc.train.data"):
        kept = fit_max_length(ds, tok, max_length=limit, truncation_mode="keep_start", packing=False)
    assert len(kept) == len(ds) - over
    assert max(token_lengths(kept, tok)) <= limit
    assert f"{over} of {len(ds)} rows are longer than max_length={limit}" in caplog.text
    # keep_end cuts the prompt from the left: rows stay, and in SFTTrainer's own preparation each long
    # row keeps exactly the label tokens it has untruncated
    left = fit_max_length(ds, tok, max_length=limit, truncation_mode="keep_end", packing=False)
    assert len(left) == len(ds)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)

    def prepared(max_length):
        args = SFTConfig(
            output_dir=str(tmp_path / f"sft-{max_length}"),
            report_to=[],
            max_length=max_length,
            truncation_mode="keep_end",
            use_cpu=True,
        )
        return SFTTrainer(model=model, args=args, train_dataset=left, processing_class=tok).train_dataset

    def label_tokens(row):
        return [t for t, label in zip(row["input_ids"], row["labels"]) if label != -100]

    whole, cut = prepared(None), prepared(limit)
    assert len(cut) == len(whole) == len(ds)
    long_rows = np.flatnonzero(lengths > limit).tolist()
    assert long_rows and [len(whole[i]["input_ids"]) for i in long_rows] == lengths[long_rows].tolist()
    for i in long_rows:
        assert len(cut[i]["input_ids"]) == limit and cut[i]["input_ids"] == whole[i]["input_ids"][-limit:]
        assert label_tokens(cut[i]) == label_tokens(whole[i]) and label_tokens(cut[i])[-1] == tok.eos_token_id
    # packing cuts from the right whatever truncation_mode says: dropped
    assert len(fit_max_length(ds, tok, max_length=limit, truncation_mode="keep_end", packing=True)) == len(ds) - over
    with pytest.raises(RecipeError, match="max_length"):
        fit_max_length(ds, tok, max_length=limit, truncation_mode="keep_start", packing=False, policy="error")


def test_a_recipe_that_does_not_parse_or_has_a_wrongly_typed_value_is_one_error_naming_its_source(tmp_path, capsys):
    good = (RECIPES / "tiny" / "iemocap-lora-cpu.yaml").read_text()
    syntax, typed = tmp_path / "syntax.yaml", tmp_path / "typed.yaml"
    syntax.write_text(good + "bad: [\n")
    typed.write_text(good + "max_steps: abc\n")
    with pytest.raises(RecipeError, match=rf"^{syntax}: while parsing a flow node .* line \d+, column 1$"):
        parse_recipe(["--config", str(syntax)])
    with pytest.raises(RecipeError, match=rf"^{typed}: argument --max_steps/--max-steps: invalid int value: 'abc'$"):
        parse_recipe(["--config", str(typed)])
    good_path = tmp_path / "good.yaml"
    good_path.write_text(good)
    with pytest.raises(RecipeError, match=r"^command line: argument --learning_rate/--learning-rate: invalid float"):
        parse_recipe(["--config", str(good_path), "--learning-rate", "fast"])
    assert capsys.readouterr().err == ""  # no usage text


def test_a_recipe_without_a_selection_metric_selects_on_weighted_f1(tmp_path):
    # TrainingArguments makes an unset metric "loss" when load_best_model_at_end is on: the parser's default
    # must win over that, and a recipe's own choice over the default
    recipe = yaml.safe_load((RECIPES / "tiny" / "iemocap-lora-cpu.yaml").read_text())
    assert recipe["load_best_model_at_end"] and recipe.pop("metric_for_best_model") and recipe.pop("greater_is_better")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    _, training_args, _ = parse_recipe(["--config", str(path)])
    assert (training_args.metric_for_best_model, training_args.greater_is_better) == ("weighted_f1", True)
    _, training_args, _ = parse_recipe(["--config", str(path), "--metric_for_best_model", "loss"])
    assert (training_args.metric_for_best_model, training_args.greater_is_better) == ("loss", False)
