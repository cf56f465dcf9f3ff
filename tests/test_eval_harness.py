"""The evaluation harness on a really fine-tuned tiny adapter: inference modes, result files,
the adapter card, unified breakdowns, bad input, and prediction for new conversations."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import REPO
from sklearn.metrics import accuracy_score, f1_score

from instructerc.builders.labels import LABELS, TO_UNIFIED, UNIFIED_LABELS
from instructerc.builders.settings import read_settings
from instructerc.eval import evaluation, loading
from instructerc.eval.errors import EvalError
from instructerc.eval.loading import Task, make_task, read_task, write_task
from instructerc.eval.scoring import parse_label, run_inference


IEMOCAP = LABELS["iemocap"]


@pytest.fixture(scope="module")
def one_thread():
    """The test machine's cores are shared: one thread avoids OpenMP oversubscription stalls."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_adapter(small_build, tiny_model_dir, tmp_path_factory, one_thread):
    """A LoRA adapter fitted by TRL's SFTTrainer to 16 short IEMOCAP train rows (plain prompts),
    with the erc_task.json a training run writes."""
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    out = tmp_path_factory.mktemp("tiny-adapter")
    train = loading.load_split(str(small_build["iemocap"]), "plain", "train")
    short = sorted(range(len(train)), key=lambda i: len(train[i]["prompt"]))[:16]
    rows = train.select(short).select_columns(["prompt", "completion"])
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        processing_class=AutoTokenizer.from_pretrained(tiny_model_dir),
        train_dataset=rows,
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
        args=SFTConfig(
            output_dir=str(out / "run"),
            max_steps=40,
            learning_rate=1e-2,
            per_device_train_batch_size=8,
            gradient_checkpointing=False,
            save_strategy="no",
            report_to=[],
            bf16=False,
            use_cpu=True,
            max_length=None,
            seed=0,
            logging_steps=40,
        ),
    )
    trainer.train()
    adapter = out / "adapter"
    trainer.model.save_pretrained(adapter)
    settings, _ = read_settings(small_build["iemocap"])
    write_task(
        adapter,
        make_task(
            dataset=str(small_build["iemocap"]),
            dataset_revision=None,
            config="plain",
            settings=settings,
            base_model=str(tiny_model_dir),
        ),
    )
    return {"dir": adapter, "train_rows": short}


@pytest.fixture(scope="module")
def loaded(tiny_adapter, tiny_model_dir):
    return loading.load_model(str(tiny_model_dir), tiny_adapter["dir"])


def copy_adapter(tiny_adapter, tmp_path):
    dest = tmp_path / "adapter"
    shutil.copytree(tiny_adapter["dir"], dest)
    return dest


def test_score_and_generate_agree(loaded, small_build, tiny_adapter):
    model, tok = loaded
    train = loading.load_split(str(small_build["iemocap"]), "plain", "train")
    test = loading.load_split(str(small_build["iemocap"]), "plain", "test")
    fitted, unseen = train.select(tiny_adapter["train_rows"]), test.select(range(24))
    prompts = list(fitted["prompt"]) + list(unseen["prompt"])
    gold = np.array(list(fitted["label"]) + list(unseen["label"]))
    score = run_inference(model, tok, prompts, IEMOCAP, "score", batch_size=4)
    gen = run_inference(model, tok, prompts, IEMOCAP, "generate", batch_size=4)
    assert set(score.pred_ids.tolist()) <= set(range(len(IEMOCAP)))  # never an invalid label
    assert (score.pred_ids[:16] == gold[:16]).mean() >= 0.9  # the adapter learned its training rows
    exact = np.array([t.strip() in IEMOCAP for t in gen.texts])  # the model answered a label and stopped
    assert exact[:16].mean() >= 0.9
    assert (gen.pred_ids[exact] == score.pred_ids[exact]).all()
    assert (gen.pred_ids == [parse_label(t, IEMOCAP) for t in gen.texts]).all()


def test_evaluate_writes_results_and_card(tiny_adapter, small_build, tmp_path):
    import pandas as pd
    from huggingface_hub import ModelCard

    from instructerc.eval.run_eval import main

    adapter = copy_adapter(tiny_adapter, tmp_path)
    out = tmp_path / "results"
    argv = [
        "--adapter",
        str(adapter),
        "--dataset",
        str(small_build["iemocap"]),
        "--dataset-config",
        "plain",
        "--split",
        "validation",
        "--output-dir",
        str(out),
        "--batch-size",
        "8",
        "--no-progress",
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["dataset_id"] == "instructerc/iemocap" and results["mode"] == "score"
    assert results["unparseable_rate"] == 0.0 and results["labels"] == IEMOCAP
    # dtype auto: bf16 where this CPU has bf16 matrix units, fp32 elsewhere; the file says which ran
    auto = "bfloat16" if torch.cuda.is_available() or loading.cpu_has_bf16_matrix_units() else "float32"
    assert results["runtime"]["dtype"] == auto
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert (
        len(predictions)
        == results["num_examples"]
        == len(loading.load_split(str(small_build["iemocap"]), "plain", "validation"))
    )
    assert predictions["id"].is_unique
    # The headline numbers, recomputed from the written predictions by scikit-learn.
    assert results["weighted_f1"] == pytest.approx(
        f1_score(predictions["gold"], predictions["prediction"], average="weighted", labels=IEMOCAP, zero_division=0)
    )
    assert results["accuracy"] == pytest.approx(accuracy_score(predictions["gold"], predictions["prediction"]))
    scores = predictions[[f"score_{x}" for x in IEMOCAP]].to_numpy()
    assert (np.array(IEMOCAP)[scores.argmax(1)] == predictions["prediction"]).all()
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "| happy |" in (out / "per_class.md").read_text()
    card = ModelCard.load(adapter / "README.md")
    index = {(r.dataset_split, r.metric_type, (r.metric_args or {}).get("average")): r for r in card.data.eval_results}
    assert index[("validation", "f1", "weighted")].metric_value == pytest.approx(results["weighted_f1"])
    assert list((adapter / ".eval_results").glob("*.yaml"))
    # 95% intervals over dialogues, reproducible from the written predictions alone
    from instructerc.eval.bootstrap import Bootstrap, format_interval
    from instructerc.eval.metric import compute

    ci = results["confidence_intervals"]["weighted_f1"]
    assert results["bootstrap"] == {
        "method": "percentile",
        "unit": "dialogue",
        "n_resamples": 1000,
        "seed": 0,
        "confidence_level": 0.95,
        "units": predictions["dialogue_id"].nunique(),
    }
    again = compute(
        [IEMOCAP.index(x) for x in predictions["prediction"]],
        [IEMOCAP.index(x) for x in predictions["gold"]],
        IEMOCAP,
        bootstrap=Bootstrap(),
        dialogue_ids=(predictions["source"] + "/" + predictions["dialogue_id"]).tolist(),
    )
    assert again["confidence_intervals"] == results["confidence_intervals"]
    assert ci["low"] <= results["weighted_f1"] <= ci["high"]
    shown = format_interval(results["weighted_f1"], ci)
    assert f"Weighted-F1 {shown}," in (out / "per_class.md").read_text()
    args = index[("validation", "f1", "weighted")].metric_args["confidence_interval"]
    assert (args["low"], args["high"], args["unit"], args["units"]) == (
        ci["low"],
        ci["high"],
        "dialogue",
        results["bootstrap"]["units"],
    )
    assert shown in card.text
    assert shown in (adapter / ".eval_results" / "instructerc__iemocap.yaml").read_text()
    assert results["training"] == {"recipe": "adapter", "seed": None}  # no recipe.yaml: seed unknown
    # generate mode on the same rows: every unparseable answer is counted, none is mapped.
    out_gen = tmp_path / "gen"
    assert (
        main(
            argv[:-5] + ["--output-dir", str(out_gen), "--mode", "generate", "--no-update-card", "--max-samples", "24"]
        )
        == 0
    )
    gen = pd.read_parquet(out_gen / "predictions.parquet")
    gen_results = json.loads((out_gen / "results.json").read_text())
    assert gen_results["unparseable_rate"] == pytest.approx(gen["prediction"].isna().mean())
    assert [parse_label(t, IEMOCAP) >= 0 for t in gen["generation"]] == gen["prediction"].notna().tolist()
    # 24 rows of one dialogue: no dialogue-level interval, and the files say why
    assert gen["dialogue_id"].nunique() == 1 and "confidence_intervals" not in gen_results
    assert "needs at least 2" in gen_results["bootstrap"]["skipped"]
    assert "No intervals: the rows scored hold 1 dialogue" in (out_gen / "per_class.md").read_text()
    # utterances as the unit, or no intervals at all
    out_utt = tmp_path / "utterance"
    assert (
        main(
            argv[:-5]
            + ["--output-dir", str(out_utt), "--no-update-card", "--max-samples", "24", "--ci-unit", "utterance"]
        )
        == 0
    )
    utt = json.loads((out_utt / "results.json").read_text())
    assert utt["bootstrap"]["unit"] == "utterance" and utt["bootstrap"]["units"] == 24
    assert utt["confidence_intervals"]["accuracy"]["low"] < utt["confidence_intervals"]["accuracy"]["high"]
    out_none = tmp_path / "none"
    assert (
        main(
            argv[:-5] + ["--output-dir", str(out_none), "--no-update-card", "--max-samples", "24", "--ci-unit", "none"]
        )
        == 0
    )
    assert "bootstrap" not in json.loads((out_none / "results.json").read_text())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"labels": ["joy", "anger"]}, "unknown label set"),
        ({"base_model": "someone/other-model"}, "was trained on base model"),
        ({"config": "nonexistent"}, "nonexistent"),
        ({"labels": []}, "non-empty list"),
    ],
)
def test_bad_input_leaves_no_result_files(tiny_adapter, tmp_path, capsys, change, message):
    from instructerc.eval.run_eval import main

    adapter = copy_adapter(tiny_adapter, tmp_path)
    task = json.loads((adapter / "erc_task.json").read_text())
    (adapter / "erc_task.json").write_text(json.dumps({**task, **change}))
    out = tmp_path / "results"
    card = (adapter / "README.md").read_bytes()  # PEFT's save_pretrained wrote one
    argv = ["--adapter", str(adapter), "--output-dir", str(out)]
    if "base_model" in change:
        argv += ["--model", task["base_model"]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1] and sum(x.startswith("error") for x in err) == 1
    assert not out.exists()
    assert (adapter / "README.md").read_bytes() == card and not (adapter / ".eval_results").exists()


@pytest.mark.parametrize(
    "flags, message", [(["--ci-level", "95"], "confidence_level"), (["--ci-resamples", "0"], "n_resamples")]
)
def test_bad_interval_settings_stop_before_anything(tmp_path, capsys, flags, message):
    from instructerc.eval.run_eval import main

    out = tmp_path / "o"
    assert main(["--model", "x", "--dataset", "y", "--output-dir", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --ci-*") and message in err[0]
    assert not out.exists()


def test_push_requires_an_adapter_and_full_split(tmp_path, capsys):
    from instructerc.eval.run_eval import main

    assert main(["--model", "x", "--dataset", "y", "--output-dir", str(tmp_path / "o"), "--push-to-hub"]) == 2
    assert "pass --adapter" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unified_scored_per_benchmark_in_both_label_sets(small_build, tiny_model_dir, one_thread):
    from sklearn.metrics import f1_score

    model, tok = loading.load_model(str(tiny_model_dir))
    test = loading.load_split(str(small_build["unified"]), "plain", "test")
    sources = np.array(test["source"])
    rows = [int(i) for s in ("iemocap", "meld", "emorynlp") for i in np.where(sources == s)[0][:12]]
    ds = test.select(rows)
    results, predictions = evaluation.evaluate_split(model, tok, ds, UNIFIED_LABELS, batch_size=6)
    assert set(results["by_source"]) == {"iemocap", "meld", "emorynlp"}
    for source, parts in results["by_source"].items():
        mine = [p for p in predictions if p["source"] == source]
        assert parts["unified"]["num_examples"] == len(mine) == 12
        unified = f1_score(
            [p["gold"] for p in mine],
            [p["prediction"] for p in mine],
            labels=UNIFIED_LABELS,
            average="weighted",
            zero_division=0,
        )
        assert parts["unified"]["weighted_f1"] == pytest.approx(unified)
        own = [u for u in UNIFIED_LABELS if u in TO_UNIFIED[source].values()]  # its macro-F1: its labels only
        assert parts["unified"]["labels"] == own
        assert parts["unified"]["macro_f1"] == pytest.approx(
            f1_score(
                [p["gold"] for p in mine],
                [p["prediction"] if p["prediction"] in own else "<not a label of this benchmark>" for p in mine],
                labels=own,
                average="macro",
                zero_division=0,
            )
        )
        back = {u: o for o, u in TO_UNIFIED[source].items()}
        gold = [back[p["gold"]] for p in mine]
        pred = [back.get(p["prediction"], "<not a label of this benchmark>") for p in mine]
        expected = f1_score(gold, pred, labels=LABELS[source], average="weighted", zero_division=0)
        assert parts["original"]["weighted_f1"] == pytest.approx(expected)
        assert parts["original"]["labels"] == LABELS[source]
        outside = np.mean([p["prediction"] not in back for p in mine])
        assert parts["original"]["out_of_label_set_rate"] == pytest.approx(outside)


def test_perfect_predictions_score_1_per_benchmark_in_unified_labels_too(small_build):
    from instructerc.eval.metric import score_predictions

    test = loading.load_split(str(small_build["unified"]), "plain", "test")
    gold = np.asarray(test["label"])
    results = score_predictions(test, UNIFIED_LABELS, gold)
    assert results["macro_f1"] == results["weighted_f1"] == 1.0
    for parts in results["by_source"].values():  # 9 labels would put the benchmark's missing ones in at F1 0
        assert parts["unified"]["macro_f1"] == parts["original"]["macro_f1"] == 1.0


@pytest.mark.parametrize("writes_bos", [True, False])
def test_a_chat_prompt_is_tokenized_with_one_bos(tiny_model_dir, writes_bos):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tokenizer("hi")["input_ids"][0] == tokenizer.bos_token_id  # this tokenizer adds the BOS itself
    tokenizer.chat_template = ("{{ bos_token }}" if writes_bos else "") + (
        "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    )
    (prompt,) = evaluation.chat_prompts(tokenizer, ["Guess what?"])
    ids = tokenizer(prompt)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    assert tokenizer.decode(ids, skip_special_tokens=True).strip().startswith("[INST] Guess what?")


def test_each_benchmark_interval_on_the_card_names_its_own_dialogues(small_build, tmp_path):
    from huggingface_hub import ModelCard

    from instructerc.eval.bootstrap import Bootstrap
    from instructerc.eval.metric import score_predictions

    test = loading.load_split(str(small_build["unified"]), "plain", "test")
    gold = np.asarray(test["label"])
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(len(gold)) < 0.5, gold, rng.integers(0, len(UNIFIED_LABELS), len(gold)))
    results = score_predictions(test, UNIFIED_LABELS, pred, Bootstrap(n_resamples=200))
    units = {b: parts["original"]["bootstrap"]["units"] for b, parts in results["by_source"].items()}
    assert set(units) == {"iemocap", "meld", "emorynlp"} and results["bootstrap"]["units"] == sum(units.values())
    evaluation._write_card(tmp_path, "org/base", "instructerc/unified", results, "plain", "test")
    card = ModelCard.load(tmp_path / "README.md")
    said = {r.metric_name: r.metric_args["confidence_interval"]["units"] for r in card.data.eval_results}
    assert said == {
        "Weighted F1": results["bootstrap"]["units"],
        "Accuracy": results["bootstrap"]["units"],
        **{f"Weighted F1 ({b})": n for b, n in units.items()},
    }
    notes = (tmp_path / ".eval_results" / "instructerc__unified.yaml").read_text()
    for b, n in units.items():
        assert f"over {n} dialogues" in notes


def test_predict_new_conversation(tiny_adapter, tmp_path, capsys):
    from instructerc.eval.predict import main
    from instructerc.eval.prediction import Predictor

    conversation = {
        "turns": [
            {"speaker": "Speaker_0", "text": "Guess what?"},
            {"speaker": "Speaker_1", "text": "What?", "emotion": "neutral"},
            {"speaker": "Speaker_0", "text": "I got the job!", "description": "smiling"},
        ]
    }
    path = tmp_path / "conv.json"
    path.write_text(json.dumps(conversation))
    assert main(["--adapter", str(tiny_adapter["dir"]), "--conversation", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["text"] for r in rows] == [t["text"] for t in conversation["turns"]]
    assert all(r["emotion"] in IEMOCAP and 0 < r["score"] <= 1 for r in rows)

    predictor = Predictor.from_pretrained(str(tiny_adapter["dir"]))
    from instructerc.builders.labels import label_text
    from instructerc.builders.templates import plain_prompt
    from instructerc.eval.prediction import read_conversation

    dialogue = read_conversation(conversation)
    assert predictor.prompts(dialogue)[2] == plain_prompt(dialogue.turns, 2, 12, label_text(IEMOCAP))
    assert predictor.predict(conversation) == predictor.predict(conversation["turns"])  # bare list of turns

    # A long history is cut from its oldest turns, never the target.
    long = [{"speaker": f"Speaker_{i % 2}", "text": f"turn number {i} " + "blah " * 20} for i in range(12)]
    full = len(predictor.tokenizer(predictor.prompts(read_conversation(long))[-1])["input_ids"])
    predictor.tokenizer.model_max_length = full // 2
    prompt = predictor.prompts(read_conversation(long))[-1]
    assert "turn number 11" in prompt and "turn number 0 " not in prompt
    assert len(predictor.tokenizer(prompt)["input_ids"]) <= full // 2
    with pytest.raises(EvalError, match="turn alone does not fit"):
        predictor.prompts(read_conversation([{"speaker": "A", "text": "word " * 2000}]))


@pytest.mark.parametrize(
    "conversation, message",
    [
        ({"turns": []}, "empty dialogue"),
        ([], "empty dialogue"),
        ({"turns": [{"speaker": "A", "text": "  "}]}, "field 'text'"),
        ({"turns": [{"speaker": "A"}]}, "field 'text'"),
        ("not json", "invalid JSON"),
    ],
)
def test_predict_bad_conversation(tiny_adapter, tmp_path, capsys, conversation, message):
    from instructerc.eval.predict import main

    path = tmp_path / "conv.json"
    path.write_text(conversation if isinstance(conversation, str) else json.dumps(conversation))
    assert main(["--adapter", str(tiny_adapter["dir"]), "--conversation", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_conversation_lines_read_back_as_the_same_dialogue():
    """The Space shows its example files as text lines; reading those lines gives the file's dialogue again."""
    from instructerc.eval.prediction import conversation_from_lines, conversation_lines, read_conversation

    sample = read_conversation(REPO / "examples" / "sample_conversation.json")
    described = read_conversation(
        [{"speaker": "Ann", "text": "Yes!", "description": "jumps up"}, *map(vars, sample.turns)]
    )
    for dialogue in (sample, described):
        lines = conversation_lines(dialogue)
        assert len(lines.splitlines()) == len(dialogue.turns)
        assert conversation_from_lines(lines).turns == dialogue.turns
    assert conversation_lines(described).splitlines()[0] == "Ann: Yes! | jumps up"


def test_predict_default_config_uses_retrieved_demonstrations(loaded, small_build):
    from instructerc.eval.prediction import Predictor, read_conversation

    model, tok = loaded
    base = loading.load_split(str(small_build["iemocap"]), "default", "train")
    task = Task(
        config="default", window=12, labels=IEMOCAP, top_k=2, embedder={"id": "sentence-transformers/all-MiniLM-L6-v2"}
    )
    predictor = Predictor(model, tok, task, base)
    dialogue = read_conversation(
        [
            {"speaker": "Speaker_0", "text": "I am so happy for you!"},
            {"speaker": "Speaker_1", "text": "Thanks, I can't believe it."},
        ]
    )
    prompts = predictor.prompts(dialogue)
    assert all("Here are 2 demonstrations:" in p and p.endswith("Answer:") for p in prompts)
    train_utterances = set(base["utterance"])
    shown = prompts[0].split("Here are 2 demonstrations:")[1]
    assert any(f':"{u}">' in shown for u in train_utterances)
    assert [label for label, _ in predictor.predict(dialogue)] and len(predictor.predict(dialogue)) == 2


def test_predict_uses_the_recorded_retrieval_balance(loaded, small_build):
    """erc_task.json's ``balance``: with ``label``, no two demonstrations of a prompt share a label."""
    import re

    from instructerc.eval.prediction import Predictor, read_conversation

    model, tok = loaded
    base = loading.load_split(str(small_build["iemocap"]), "default", "train")
    task = Task(config="default", window=12, labels=IEMOCAP, top_k=4)
    dialogue = read_conversation(
        [
            {"speaker": "Speaker_0", "text": t}
            for t in ("I am so happy for you!", "Why would you do that?", "Okay.", "Leave me alone.")
        ]
    )

    def shown_labels(balance):
        prompts = Predictor(model, tok, replace(task, balance=balance), base).prompts(dialogue)
        return [re.findall(r"> is <(\w+)>", p.split("Here are 4 demonstrations:")[1]) for p in prompts]

    balanced = shown_labels("label")
    assert all(len(labels) == 4 and len(set(labels)) == 4 for labels in balanced)
    assert any(len(set(labels)) < 4 for labels in shown_labels("none"))  # unbalanced top-4 repeats labels


@pytest.mark.slow
def test_end_to_end_on_the_local_hub(hub, tiny_adapter, tiny_model_dir, small_build, tmp_path):
    """Publish a tiny base model, a dataset and an adapter; evaluate the adapter from the Hub with
    eval/run_eval.py --push-to-hub; read the card back: its weighted-F1 is results.json's."""
    import os
    import subprocess
    import sys

    from huggingface_hub import ModelCard

    from instructerc.hub.adapter_card import make_adapter_card
    from instructerc.hub.publish import push_folder
    from instructerc.train.artifacts import name_base_model

    push_folder(tiny_model_dir, "instructerc-bot/tiny-llama", repo_type="model", private=True, token=hub.token)
    push_folder(small_build["iemocap"], "instructerc-bot/iemocap", repo_type="dataset", private=True, token=hub.token)
    adapter = copy_adapter(tiny_adapter, tmp_path)
    write_task(
        adapter,
        replace(read_task(adapter), base_model="instructerc-bot/tiny-llama", dataset="instructerc-bot/iemocap"),
    )
    name_base_model(adapter, "instructerc-bot/tiny-llama")  # as a training run does: no local path is pushed
    make_adapter_card(
        base_model="instructerc-bot/tiny-llama",
        datasets=["instructerc-bot/iemocap"],
        repo_id="instructerc-bot/tiny-lora",
    ).save(str(adapter / "README.md"))
    push_folder(adapter, "instructerc-bot/tiny-lora", repo_type="model", private=True, token=hub.token)

    out = tmp_path / "results"
    env = {**os.environ, "HF_TOKEN": hub.token, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "eval/run_eval.py",
        "--adapter",
        "instructerc-bot/tiny-lora",
        "--split",
        "validation",
        "--output-dir",
        str(out),
        "--push-to-hub",
        "--private",
        "--no-progress",
    ]
    proc = subprocess.run(cmd, cwd=evaluation.__file__.rsplit("/eval/", 1)[0], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert (results["model"], results["dataset"], results["config"]) == (
        "instructerc-bot/tiny-llama",
        "instructerc-bot/iemocap",
        "plain",
    )

    card = ModelCard.load("instructerc-bot/tiny-lora", token=hub.token)
    weighted = [r for r in card.data.eval_results if r.metric_type == "f1" and r.dataset_split == "validation"]
    assert len(weighted) == 1 and weighted[0].metric_value == results["weighted_f1"]
    assert weighted[0].dataset_type == "instructerc-bot/iemocap" and weighted[0].dataset_config == "plain"
    files = hub.files("instructerc-bot/tiny-lora")
    assert ".eval_results/instructerc-bot__iemocap.yaml" in files and "adapter_model.safetensors" in files
    for name in ("README.md", ".eval_results/instructerc-bot__iemocap.yaml"):
        assert hub.token not in files[name].decode()
    assert hub.token not in proc.stdout + proc.stderr + (out / "results.json").read_text()


def test_results_record_the_recipe_and_seed_that_trained_the_adapter(tmp_path):
    from transformers import TrainingArguments

    from instructerc.eval.evaluation import training_of

    adapter = tmp_path / "my-adapter"
    adapter.mkdir()
    assert training_of(adapter, str(adapter)) == {"recipe": "my-adapter", "seed": None}  # no recipe.yaml
    (adapter / "recipe.yaml").write_text("run_name: meld-lora\nseed: 7\n")
    assert training_of(adapter, str(adapter)) == {"recipe": "meld-lora", "seed": 7}
    (adapter / "recipe.yaml").write_text("learning_rate: 0.001\n")  # trained with the Trainer's default seed
    assert training_of(adapter, "ORG/my-adapter") == {"recipe": "my-adapter", "seed": TrainingArguments("x").seed}
    (adapter / "recipe.yaml").write_text("seed: forty-two\n")
    with pytest.raises(EvalError, match="field 'seed' must be an integer"):
        training_of(adapter, str(adapter))
    assert training_of(None, None) is None  # a base model: no training


def test_a_dataset_built_with_a_local_embedder_needs_those_weights_to_predict(tmp_path):
    """The card and task file record a local embedder by its weights' sha256, never its path:
    prediction asks for the folder, and checks it."""
    from instructerc.builders.embedder import DEFAULT_EMBEDDER, resolve
    from instructerc.eval.prediction import _embedder

    packaged = resolve(DEFAULT_EMBEDDER)  # a folder with the packaged weights
    task = Task(labels=IEMOCAP, embedder={"id": None, "revision": None, "sha256": packaged.sha256})
    with pytest.raises(
        EvalError, match=f"local embedder \\(model.safetensors sha256 {packaged.sha256}\\); pass --embedder"
    ):
        _embedder(task, None)
    assert _embedder(task, packaged.location) == packaged.location
    other = Task(labels=IEMOCAP, embedder={"id": None, "sha256": "0" * 64})
    with pytest.raises(EvalError, match="is not the dataset's 0000"):
        _embedder(other, packaged.location)
    old = Task.from_dict({"labels": IEMOCAP, "embedder": DEFAULT_EMBEDDER})  # format 1: a name, used as is
    assert old.embedder == {"id": DEFAULT_EMBEDDER} and old.format == 1 and _embedder(old, None) is None
    # what a format-1 file lacks, prompts for new text take from the build defaults (task_file decides, once)
    assert (old.prompt_window, old.retrieval_query, old.retrieval_balance) == (12, "previous", "none")
    assert Task(labels=IEMOCAP).retrieval_embedder == DEFAULT_EMBEDDER and old.query is None


def test_an_evaluation_can_be_a_yaml_file(tmp_path, capsys):
    """eval/run_eval.py's arguments are dataclass fields read by TrlParser: a YAML file of them
    (--config) is an evaluation, command-line flags override it, and every flag parses in both
    spellings (--output-dir, --output_dir)."""
    from instructerc.eval.run_eval import parse_args

    spec = tmp_path / "eval.yaml"
    spec.write_text(
        "adapter: runs/a\noutput_dir: out/a\ndataset_config: plain\nsplit: test\nci_unit: utterance\n"
        "update_card: false\n"
    )
    run = parse_args(["--config", str(spec), "--split", "validation", "--max-samples", "3", "--no-progress"])
    assert (run.adapter, run.output_dir, run.split, run.max_samples) == ("runs/a", "out/a", "validation", 3)
    assert run.dataset_config == "plain"
    assert parse_args(["--output_dir", "o", "--dataset_config", "speaker"]).dataset_config == "speaker"
    assert (run.ci_unit, run.update_card, run.progress) == ("utterance", False, False)
    assert run.bootstrap().unit == "utterance"
    flags = parse_args(["--output-dir", "o", "--no-update-card", "--ci-unit", "none", "--push-to-hub", "--private"])
    assert (flags.output_dir, flags.update_card, flags.push_to_hub, flags.private) == ("o", False, True, True)
    assert flags.bootstrap() is None
    spec.write_text("output_dir: out\nnot_a_flag: 1\n")
    with pytest.raises(SystemExit) as refused:
        parse_args(["--config", str(spec)])
    assert refused.value.code == 2 and "not_a_flag" in capsys.readouterr().err
    with pytest.raises(SystemExit) as missing:
        parse_args(["--config", str(tmp_path / "missing.yaml")])
    assert missing.value.code == 2 and "missing.yaml" in capsys.readouterr().err
