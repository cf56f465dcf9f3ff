"""Publishing datasets and adapters end to end over HTTP, against the local Hub-protocol server.

`HF_ENDPOINT` points at the server (see `hubserver/fixtures.py`), so `push_folder`, `load_dataset` and
`PeftModel.from_pretrained` all run their real code paths. Folders from the shared `small_build` are only
read; tests that change a folder work on a copy.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from instructerc.hub.errors import CardError, HubError, LicenseError
from instructerc.hub.publish import push_folder


REPO = Path(__file__).resolve().parents[1]
FAST = {"retry_wait": 0.01}  # keep retried pushes fast; the backoff itself is exercised, not its duration


def _committed(hub, repo_id: str, branch: str = "main") -> list[str]:
    """The files the newest commit of `branch` added or changed, as the server stored them."""
    new, old = hub.commits(repo_id, "dataset", branch)[:2]
    return sorted(path for path, entry in new.tree.items() if old.tree.get(path) != entry)


def _copy(folder: Path, tmp_path: Path, name: str | None = None) -> Path:
    return Path(shutil.copytree(folder, tmp_path / (name or folder.name)))


def _cli(*args: str, token: str | None = None, module: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    if token:
        env["HF_TOKEN"] = token
    entry = ["-m", "instructerc.hub.push"] if module else [str(REPO / "hub" / "push.py")]
    command = [sys.executable, *entry, *args]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


# -- acceptance: datasets ------------------------------------------------------------------------------------


def test_pushed_dataset_loads_exactly_like_the_local_build(hub, small_build):
    """Every config and split of `instructerc/unified` loaded from the Hub equals the local build."""
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    folder = small_build["unified"]
    result = push_folder(
        folder, "instructerc/unified", repo_type="dataset", confirm_iemocap_license=True, token=hub.token
    )
    assert result.changed and result.commit_oid == hub.commits("instructerc/unified", "dataset")[0].oid
    stored = hub.files("instructerc/unified", "dataset")
    local = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert {p: b for p, b in stored.items() if p != ".gitattributes"} == local  # byte for byte

    configs = DatasetCard.load(folder / "README.md").data.configs
    assert len(configs) >= 4
    for config in configs:
        name = config["config_name"]
        splits = [spec["split"] for spec in config["data_files"]]
        built = load_dataset(str(folder), name)
        assert sorted(built) == sorted(splits) and built["train"].num_rows > 0
        for split in splits:
            pulled = load_dataset("instructerc/unified", name, split=split)
            assert pulled.features == built[split].features, (name, split)
            assert pulled.num_rows == built[split].num_rows, (name, split)
            assert pulled.to_pandas().equals(built[split].to_pandas()), (name, split)
            assert pulled.data.table.equals(built[split].data.table), (name, split)  # Arrow-level equality


def test_second_push_of_an_unchanged_folder_makes_no_commit(hub, small_build, tmp_path, caplog):
    folder = _copy(small_build["meld"], tmp_path)
    repo_id = "instructerc/meld-idempotent"
    first = push_folder(folder, repo_id, token=hub.token)
    commits = len(hub.commits(repo_id, "dataset"))
    commit_calls = len(hub.calls("commit"))

    uploads = len(hub.calls("lfs_upload"))
    second = push_folder(folder, repo_id, token=hub.token)
    assert not second.changed and second.commit_oid == first.commit_oid and second.files == first.files
    assert len(hub.commits(repo_id, "dataset")) == commits
    assert len(hub.calls("commit")) == commit_calls  # not even an empty commit was attempted
    assert len(hub.calls("lfs_upload")) == uploads  # and nothing was uploaded again
    assert "no commit made" in str(second)

    readme = folder / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    third = push_folder(folder, repo_id, token=hub.token, commit_message="Reword the card")
    assert third.changed and _committed(hub, repo_id) == ["README.md"]  # only what changed was sent
    assert hub.commits(repo_id, "dataset")[0].title == "Reword the card"
    assert len(hub.commits(repo_id, "dataset")) == commits + 1

    (folder / "notes.txt").write_text("build notes\n")
    push_folder(folder, repo_id, token=hub.token)
    (folder / "notes.txt").unlink()
    with caplog.at_level(logging.WARNING, logger="instructerc.hub.publish"):
        fourth = push_folder(folder, repo_id, token=hub.token)
    gone_path = "notes.txt"
    assert not fourth.changed and fourth.remote_only == (gone_path,)
    assert gone_path in hub.files(repo_id, "dataset")  # never deleted silently
    assert "are kept" in caplog.text and gone_path in caplog.text


def test_push_to_a_branch_leaves_main_alone(hub, small_build, tmp_path):
    folder = _copy(small_build["emorynlp"], tmp_path)
    repo_id = "instructerc/emorynlp-branches"
    push_folder(folder, repo_id, token=hub.token)
    (folder / "README.md").write_text((folder / "README.md").read_text() + "\nDraft.\n")
    result = push_folder(folder, repo_id, token=hub.token, revision="draft")
    assert result.revision == "draft" and _committed(hub, repo_id, "draft") == ["README.md"]
    assert hub.files(repo_id, "dataset", "draft")["README.md"].endswith(b"Draft.\n")
    assert not hub.files(repo_id, "dataset", "main")["README.md"].endswith(b"Draft.\n")


# -- acceptance: adapters ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory):
    """A random tiny Llama and a LoRA on q_proj/v_proj, saved to disk, with the logits they produce."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    from instructerc.train.tiny_model import tiny_config

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-llama")
    base = LlamaForCausalLM(tiny_config(max_position_embeddings=64))
    base.save_pretrained(root / "base")
    # init_lora_weights=False: random B, so the adapter really changes the logits
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(base, lora)
    model.save_pretrained(root / "adapter")
    inputs = torch.randint(0, base.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        logits = model(inputs).logits
        plain = model.get_base_model()
        with model.disable_adapter():
            base_logits = plain(inputs).logits
    return {
        "base": root / "base",
        "adapter": root / "adapter",
        "inputs": inputs,
        "logits": logits,
        "base_logits": base_logits,
    }


def test_pushed_adapter_loads_with_peft_and_gives_identical_logits(hub, tiny_adapter, tmp_path):
    import torch
    from huggingface_hub import ModelCard, hf_hub_download
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from instructerc.hub.adapter_card import make_adapter_card
    from instructerc.hub.card_validation import read_eval_results
    from instructerc.hub.eval_results import write_eval_results

    assert not torch.equal(tiny_adapter["logits"], tiny_adapter["base_logits"])  # the adapter matters
    push_folder(tiny_adapter["base"], "instructerc/tiny-llama-base", repo_type="model", token=hub.token)

    folder = _copy(tiny_adapter["adapter"], tmp_path)
    make_adapter_card(
        base_model="instructerc/tiny-llama-base",
        datasets=["instructerc/unified"],
        recipe={"method": "sft", "lora": {"r": 4, "alpha": 8}},
        repo_id="instructerc/tiny-llama-lora",
    ).save(folder / "README.md")
    scores = {
        "dataset_id": "instructerc/meld",
        "config": "plain",
        "split": "test",
        "weighted_f1": 0.5,
        "accuracy": 0.6,
    }
    write_eval_results(folder, [scores])

    # trained on unified, hence on IEMOCAP: public only with the confirmation
    with pytest.raises(LicenseError):
        push_folder(folder, "instructerc/tiny-llama-lora", repo_type="model", token=hub.token)
    push_folder(
        folder, "instructerc/tiny-llama-lora", repo_type="model", token=hub.token, confirm_iemocap_license=True
    )

    base = AutoModelForCausalLM.from_pretrained("instructerc/tiny-llama-base")
    model = PeftModel.from_pretrained(base, "instructerc/tiny-llama-lora")
    model.eval()
    with torch.no_grad():
        logits = model(tiny_adapter["inputs"]).logits
    assert torch.equal(logits, tiny_adapter["logits"])

    card = ModelCard.load("instructerc/tiny-llama-lora")  # downloaded from the server
    assert card.data.base_model == "instructerc/tiny-llama-base" and card.data.library_name == "peft"
    assert {r.metric_name for r in card.data.eval_results} == {"Weighted F1", "Accuracy"}
    pulled = Path(hf_hub_download("instructerc/tiny-llama-lora", ".eval_results/instructerc__meld.yaml")).parent.parent
    assert {e.task_id for e in read_eval_results(pulled)} == {"plain_test_weighted_f1", "plain_test_accuracy"}


# -- reliability ---------------------------------------------------------------------------------------------


def test_a_500_on_the_first_commit_is_retried(hub, small_build, caplog):
    folder = small_build["emorynlp"]
    repo_id = "instructerc/emorynlp-retry"
    hub.inject_fault("commit", status=500, times=1)
    with caplog.at_level(logging.WARNING, logger="instructerc.hub.publish"):
        result = push_folder(folder, repo_id, token=hub.token, **FAST)
    assert result.changed
    assert [r.status for r in hub.calls("commit") if repo_id in r.path] == [500, 200]
    assert len(hub.commits(repo_id, "dataset")) == 2  # initial + exactly one upload commit
    assert "HTTP 500" in caplog.text and "retrying" in caplog.text
    assert hub.files(repo_id, "dataset")["README.md"] == (folder / "README.md").read_bytes()


def test_a_commit_whose_answer_was_lost_is_not_made_twice(hub, small_build):
    repo_id = "instructerc/emorynlp-lost-answer"
    hub.inject_fault("commit", status=502, apply_first=True)  # committed, but the client sees a 502
    result = push_folder(small_build["emorynlp"], repo_id, token=hub.token, **FAST)
    assert not result.changed  # the retry found everything already there
    assert [r.status for r in hub.calls("commit") if repo_id in r.path] == [502]
    assert len(hub.commits(repo_id, "dataset")) == 2


def test_an_upload_cut_short_is_retried_and_stored_whole(hub, small_build):
    folder = small_build["meld"]
    repo_id = "instructerc/meld-cut-upload"
    hub.cut_upload_short()
    push_folder(folder, repo_id, token=hub.token, **FAST)
    assert 0 in [r.status for r in hub.calls("lfs_upload")]  # one connection was dropped mid-body
    stored = hub.files(repo_id, "dataset")
    for path in folder.rglob("*.parquet"):
        assert stored[path.relative_to(folder).as_posix()] == path.read_bytes()


# -- licence guard -------------------------------------------------------------------------------------------


def test_iemocap_data_is_not_pushed_public_without_the_flag(hub, small_build):
    from huggingface_hub import HfApi

    folder = small_build["iemocap"]
    before = len(hub.requests)
    with pytest.raises(LicenseError) as refused:
        push_folder(folder, "instructerc/iemocap", token=hub.token)
    message = str(refused.value)
    assert "IEMOCAP" in message and "--private" in message and "--confirm-iemocap-license" in message
    assert "\n" not in message
    assert len(hub.requests) == before and not hub.has_repo("instructerc/iemocap", "dataset")  # refused offline

    assert push_folder(folder, "instructerc/iemocap", private=True, token=hub.token).changed
    assert HfApi(token=hub.token).dataset_info("instructerc/iemocap").private

    # --private does not help when the repo already exists and is public
    HfApi(token=hub.token).create_repo("instructerc/iemocap-public", repo_type="dataset", private=False)
    with pytest.raises(LicenseError, match="publicly"):
        push_folder(folder, "instructerc/iemocap-public", private=True, token=hub.token)
    assert len(hub.commits("instructerc/iemocap-public", "dataset")) == 1

    result = push_folder(folder, "instructerc/iemocap-public", confirm_iemocap_license=True, token=hub.token)
    assert result.changed


def test_data_without_iemocap_is_pushed_public_freely(hub, small_build):
    result = push_folder(small_build["meld"], "instructerc/meld-public", token=hub.token)
    assert result.changed and not hub.state.repos[("dataset", "instructerc/meld-public")].private


# -- errors and token hygiene --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, expected",
    [
        ("invalid-token", "authentication failed (401)"),
        ("read-only-token", "permission denied (403)"),
        ("missing", "not found (404)"),
        ("conflict", "conflict (409)"),
        ("server-down", "the Hub failed with HTTP 503"),
        ("no-token", "no Hugging Face token"),
    ],
)
def test_hub_errors_become_one_clear_line(hub, small_build, monkeypatch, case, expected):
    token = hub.token
    if case == "invalid-token":
        token = "hf_" + "Z" * 34
    elif case == "read-only-token":
        token = hub.read_token
    elif case == "missing":
        hub.inject_fault("tree", status=404)
    elif case == "conflict":
        hub.inject_fault("commit", status=409)
    elif case == "server-down":
        hub.inject_fault("commit", status=503, times=3)
    elif case == "no-token":
        monkeypatch.delenv("HF_TOKEN", raising=False)
        token = None
    with pytest.raises(HubError) as failed:
        push_folder(small_build["emorynlp"], f"instructerc/errors-{case}", token=token, max_retries=2, **FAST)
    message = str(failed.value)
    assert expected in message and "\n" not in message
    assert "instructerc/errors-" in message or case == "no-token"
    assert hub.token not in message and hub.read_token not in message and "hf_ZZZZ" not in message
    if case == "server-down":
        assert "after 3 attempt(s)" in message


def test_the_token_appears_nowhere(hub, small_build, tmp_path, monkeypatch, caplog, capfd):
    """With HF_TOKEN set, the token reaches the server but no log, output, message or file."""
    monkeypatch.setenv("HF_TOKEN", hub.token)
    caplog.set_level(logging.DEBUG)
    folder = _copy(small_build["meld"], tmp_path)
    repo_id = "instructerc/meld-token-hygiene"

    push_folder(folder, repo_id, private=True, **FAST)  # token from the environment
    assert hub.calls("commit")[-1].authenticated
    (folder / "README.md").write_text((folder / "README.md").read_text() + "\nchanged\n")
    hub.inject_fault("commit", status=500, times=2)
    with pytest.raises(HubError) as failed:
        push_folder(folder, repo_id, private=True, max_retries=1, **FAST)
    ok = _cli("--folder", str(folder), "--repo-id", repo_id, "--private", token=hub.token)
    hub.inject_fault("commit", status=500, times=1)
    (folder / "README.md").write_text((folder / "README.md").read_text() + "\nchanged again\n")
    bad = _cli("--folder", str(folder), "--repo-id", repo_id, "--private", "--max-retries", "0", token=hub.token)
    assert ok.returncode == 0 and bad.returncode == 2  # every `error:` line exits 2 (builders.errors.EXIT_STATUS)
    assert bad.stderr.splitlines()[-1].startswith("error: the Hub failed with HTTP 500")

    captured = capfd.readouterr()
    texts = [caplog.text, captured.out, captured.err, ok.stdout, ok.stderr, bad.stdout, bad.stderr, str(failed.value)]
    assert "HTTP Request" in caplog.text  # the HTTP traffic itself was logged, and still no token
    for text in texts:
        assert hub.token not in text
    roots = [folder, Path(os.environ["HF_HOME"])]
    for path in (p for root in roots for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        assert hub.token.encode() not in path.read_bytes(), path
    assert all(hub.token.encode() not in data for data in hub.files(repo_id, "dataset").values())


# -- command line --------------------------------------------------------------------------------------------


def test_cli_pushes_and_refuses_with_one_error_line(hub, small_build):
    folder = str(small_build["iemocap"])
    refused = _cli("--folder", folder, "--repo-id", "instructerc/iemocap-cli", token=hub.token)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: refusing to publish")
    assert not hub.has_repo("instructerc/iemocap-cli", "dataset")

    pushed = _cli(
        "--folder",
        folder,
        "--repo-id",
        "instructerc/iemocap-cli",
        "--private",
        "--commit-message",
        "CLI push",
        token=hub.token,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "committed" in pushed.stdout and hub.commits("instructerc/iemocap-cli", "dataset")[0].title == "CLI push"
    again = _cli("--folder", folder, "--repo-id", "instructerc/iemocap-cli", "--private", token=hub.token, module=True)
    assert again.returncode == 0 and "no commit made" in again.stdout


def test_cli_detects_adapter_folders(tiny_adapter):
    from instructerc.hub.push import detect_repo_type

    assert detect_repo_type(tiny_adapter["adapter"]) == "model"
    assert detect_repo_type(tiny_adapter["base"]) == "model"
    assert detect_repo_type(REPO / "tests") == "dataset"


def test_an_iemocap_adapter_without_its_card_is_still_refused_publicly(hub, tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (folder / "erc_task.json").write_text('{"format": 2, "dataset": "instructerc/iemocap-frac1_4", "labels": []}')
    before = len(hub.requests)
    with pytest.raises(LicenseError, match="derived from IEMOCAP"):
        push_folder(folder, "instructerc/no-card", repo_type="model", private=False, token=hub.token)
    assert len(hub.requests) == before and not hub.has_repo("instructerc/no-card")
    (folder / "erc_task.json").write_text("[1]")
    with pytest.raises(CardError, match="erc_task.json: not a JSON object"):
        push_folder(folder, "instructerc/no-card", repo_type="model", private=False, token=hub.token)
