"""Retrieved demonstrations: exact chunked search, leak-free demonstrations on the real data,
the embedding cache, the verified offline embedder, and the report in every card."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets import Dataset
from datasets.table import InMemoryTable
from huggingface_hub import DatasetCard

from instructerc.builders.build import main
from instructerc.builders.embedder import DEFAULT_EMBEDDER, PACKAGED, Embedder, packaged_archive, resolve
from instructerc.builders.errors import DataError
from instructerc.builders.files import cache_root
from instructerc.builders.pipeline import build_datasets, read_corpora, split_file
from instructerc.builders.retrieval import PREVIOUS_WEIGHT, retrieve, retrieve_corpus
from instructerc.builders.retrieval_report import REFERENCE, measure
from instructerc.builders.search import search
from instructerc.builders.templates import demonstration_section


SPLITS = ("train", "validation", "test")


def _brute_force(q, b, k, qg, bg):
    s = q @ b.T
    s[qg[:, None] == bg[None, :]] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, 1), order


def test_search_is_exact_across_blocks_and_masks_own_group():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((37, 16)).astype(np.float32)
    b = rng.standard_normal((501, 16)).astype(np.float32)
    qg, bg = rng.integers(0, 40, 37), rng.integers(0, 40, 501)
    want_s, want_i = _brute_force(q, b, 5, qg, bg)
    for block in (64, 1000, 1 << 24):  # many small blocks, a few, one
        got_s, got_i = search(q, b, 5, qg, bg, block_scores=block)
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_allclose(got_s, want_s, rtol=1e-5)
        for row in range(37):
            assert not np.isin(got_i[row], np.flatnonzero(bg == qg[row])).any()
    # fewer allowed rows than k: the tail is (-inf, -1)
    s, i = search(q[:2], b[:3], 5, np.array([0, 1]), np.array([0, 0, 1]))
    assert i[0].tolist() == [2, -1, -1, -1, -1] and np.isneginf(s[0, 1:]).all()
    assert i[1, :2].tolist() == sorted([0, 1], key=lambda j: -float(q[1] @ b[j])) and (i[1, 2:] == -1).all()


def test_search_memory_is_bounded_without_a_full_score_matrix():
    """200k base x 4k queries: the full score matrix would be 3.2 GB; the search stays far below."""
    code = (
        "import resource, numpy as np\n"
        "from instructerc.builders.search import search\n"
        "rng = np.random.default_rng(0)\n"
        "b = rng.standard_normal((200_000, 32), dtype=np.float32)\n"
        "q = rng.standard_normal((4_000, 32), dtype=np.float32)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "s, i = search(q, b, 10, np.arange(4_000), np.arange(200_000) % 5_000)\n"
        "assert i.shape == (4_000, 10) and (i >= 0).all()\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    grown_mib = int(out.stdout.split()[-1])
    assert grown_mib < 600, f"search grew RSS by {grown_mib} MiB"


# ---- the real data: leak-free demonstrations and the default template ---------------------


def _rows(folder, config, split):
    """The parquet file itself: ``load_dataset(folder)`` caches a local folder by its name and
    README configs, not its content, so builds of one dataset in two folders (full, small,
    another window) would read each other's cache within a session."""
    path = split_file(folder, config, split)
    return Dataset(InMemoryTable(pq.read_table(path)))


@pytest.mark.parametrize("name", ["iemocap", "meld", "emorynlp", "unified"])
def test_demonstrations_are_leak_free_and_rendered(full_build, name):
    folder = full_build[name]
    train = {(r["source"], r["dialogue_id"], r["turn"]): r for r in _rows(folder, "plain", "train")}
    train_dialogues = {(s, d) for s, d, _ in train}
    sources = set()
    for split in SPLITS:
        plain = _rows(folder, "plain", split)
        default = _rows(folder, "default", split)
        assert default.num_rows == plain.num_rows
        names = default.features["label"].names
        for p, r in zip(plain, default):
            assert (p["source"], p["dialogue_id"], p["turn"]) == (r["source"], r["dialogue_id"], r["turn"])
            demos = r["demonstrations"]
            assert len(demos) == 1
            shown = []
            for d in demos:
                key = (d["source"], d["dialogue_id"], d["turn"])
                assert key in train, f"{name}/{split}: demonstration {key} is not a train turn"
                assert (d["source"], d["dialogue_id"]) != (r["source"], r["dialogue_id"]), "own dialogue"
                assert (d["source"], d["dialogue_id"]) in train_dialogues
                source_row = train[key]
                assert d["label"] == names[source_row["label"]]
                shown.append(
                    {"speaker": source_row["speaker"], "utterance": source_row["utterance"], "label": d["label"]}
                )
                sources.add(d["source"])
            # identical to plain except for the demonstration section
            assert r["prompt"] == p["prompt"] + demonstration_section(shown)
            assert r["prompt"].endswith(" Answer:") and r["completion"] == p["completion"]
            assert {k: r[k] for k in p} | {"prompt": p["prompt"]} == p
        scores = np.array([d["score"] for r in default for d in r["demonstrations"]])
        assert ((scores > -1.0001) & (scores < 1.0001)).all()
    if name == "unified":
        assert sources == {"iemocap", "meld", "emorynlp"}  # any source's train dialogues


def test_each_demonstration_is_the_nearest_train_turn_to_its_query(small_build):
    """Recomputed with sentence-transformers itself: the query is the utterance plus PREVIOUS_WEIGHT x the
    previous turn, re-normalised; the candidates are the train utterances; the demonstration is the best."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve(DEFAULT_EMBEDDER).location, device="cpu")

    def encode(texts):
        return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)

    folder = small_build["iemocap"]
    train = _rows(folder, "plain", "train")
    where = {(r["dialogue_id"], r["turn"]): i for i, r in enumerate(train)}
    rows = list(_rows(folder, "default", "test"))
    text = {(r["dialogue_id"], r["turn"]): r["utterance"] for r in rows}
    queries = encode(r["utterance"] for r in rows)
    after = [i for i, r in enumerate(rows) if r["turn"] > 0]
    assert after and all((rows[i]["dialogue_id"], rows[i]["turn"] - 1) in text for i in after)  # IEMOCAP: all labelled
    previous = np.zeros_like(queries)
    previous[after] = encode(text[rows[i]["dialogue_id"], rows[i]["turn"] - 1] for i in after)
    queries = queries + PREVIOUS_WEIGHT * previous
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores = queries @ encode(train["utterance"]).T
    for i, r in enumerate(rows):
        (d,) = r["demonstrations"]
        assert d["score"] == pytest.approx(scores[i].max(), abs=1e-4), (r["dialogue_id"], r["turn"])
        assert scores[i, where[d["dialogue_id"], d["turn"]]] == pytest.approx(d["score"], abs=1e-4)


def _card_numbers(card_text: str) -> dict[str, tuple[float, float, float]]:
    rows = re.findall(r"^\| (validation|test) \| \d+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", card_text, re.M)
    return {split: tuple(float(x) for x in values) for split, *values in rows}


@pytest.mark.parametrize("name", ["iemocap", "meld", "emorynlp", "unified"])
def test_report_in_every_card_matches_the_rows(full_build, name):
    card = DatasetCard.load(full_build[name] / "README.md")
    assert "## Retrieved demonstrations (`default` config)" in card.text
    assert "Here is a demonstration: <" in card.text  # the example default prompt
    numbers = _card_numbers(card.text)
    assert set(numbers) == {"validation", "test"}
    for split in ("validation", "test"):
        default = _rows(full_build[name], "default", split)
        names = default.features["label"].names
        agree = np.mean([names[r["label"]] == r["demonstrations"][0]["label"] for r in default])
        assert numbers[split][0] == pytest.approx(100 * agree, abs=0.051)


def test_chosen_default_beats_the_reference_setting_on_validation(full_build, raw_dir):
    """The reference setting (the utterance alone, every train turn a candidate) measured on the same
    splits: it reproduces the test numbers the cards cite (REFERENCE, measured here once), and the default
    beats it on validation."""
    corpora = read_corpora(list(REFERENCE), raw_dir)
    embedder = Embedder()
    for name, corpus in corpora.items():
        ref = retrieve_corpus(corpus, embedder, query="utterance", distinct=False, splits=("validation", "test"))
        ref = {split: {k: 100 * v for k, v in m.items()} for split, m in measure(ref, corpus.labels).items()}
        agreement, knn_f1 = REFERENCE[name]
        assert ref["test"]["knn_weighted_f1"] == pytest.approx(knn_f1, abs=0.5)
        assert ref["test"]["label_agreement"] == pytest.approx(agreement, abs=2.0)  # order among duplicate texts
        card = _card_numbers(DatasetCard.load(full_build[name] / "README.md").text)
        assert card["validation"][0] >= round(ref["validation"]["label_agreement"], 1), (name, card, ref)


# ---- the cache and the embedder ------------------------------------------------------------


def test_second_build_encodes_zero_sentences(raw_dir, tmp_path, caplog):
    cache = tmp_path / "emb"
    caplog.set_level(logging.INFO, logger="instructerc.builders")
    first = build_datasets(
        raw_dir,
        tmp_path / "a",
        ["emorynlp", "unified"],
        max_dialogues=2,
        configs=("default",),
        embed_cache=cache,
        progress=False,
    )
    encoded = [int(m) for m in re.findall(r"(\d+) encoded", caplog.text)]
    assert encoded and encoded[0] > 0
    shards = sorted(cache.rglob("*.npy"))
    searches = sorted(cache.rglob("searches/*.npz"))
    assert searches  # the neighbours are memoised beside the vectors
    caplog.clear()
    # a different window and top-k: every text is in the cache
    second = build_datasets(
        raw_dir,
        tmp_path / "b",
        ["emorynlp", "unified"],
        max_dialogues=2,
        configs=("default",),
        embed_cache=cache,
        window=3,
        top_k=2,
        progress=False,
    )
    assert re.findall(r"(\d+) encoded", caplog.text) == ["0"]
    assert sorted(cache.rglob("*.npy")) == shards
    assert sorted(cache.rglob("searches/*.npz")) == searches  # and nothing was searched again
    a = _rows(first["unified"], "default", "test")
    b = _rows(second["unified"], "default", "test")
    assert [r["demonstrations"][0] for r in b] == [r["demonstrations"][0] for r in a]
    assert [len(r["demonstrations"]) for r in b] == [2] * len(b)


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    """A fresh INSTRUCTERC_CACHE: the packaged embedder is materialised there."""
    monkeypatch.setenv("INSTRUCTERC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_packaged_embedder_is_materialised_once_and_verified(private_cache):
    emb = Embedder(DEFAULT_EMBEDDER, cache_dir=private_cache / "emb")
    folder = Path(emb.resolved.location)
    assert folder.parent == cache_root() / "embedders" and (folder / "modules.json").is_file()
    assert emb.resolved.fingerprint.endswith(PACKAGED[DEFAULT_EMBEDDER].sha256["model.safetensors"][:16])
    vectors = emb.encode(["I am so happy for you!", "I am so happy for you!", "This is awful."])
    assert emb.encoded == 2  # identical texts are encoded once
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[1])
    # the same vectors as sentence-transformers itself gives
    from sentence_transformers import SentenceTransformer

    direct = SentenceTransformer(str(folder)).encode(["This is awful."], normalize_embeddings=True)
    np.testing.assert_allclose(vectors[2], direct[0], atol=1e-5)
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert Embedder(DEFAULT_EMBEDDER, cache_dir=private_cache / "emb").resolved.location == str(folder)
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime  # not extracted again


def test_wrong_embedder_hash_fails_with_no_output(private_cache, raw_dir, tmp_path, capsys):
    folder = Path(Embedder(DEFAULT_EMBEDDER, cache_dir=private_cache / "emb").resolved.location)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    out = tmp_path / "out"
    code = main(
        [
            "--raw-dir",
            str(raw_dir),
            "--out",
            str(out),
            "--datasets",
            "iemocap",
            "--max-dialogues",
            "1",
            "--embed-cache",
            str(private_cache / "emb"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert (
        err.startswith(f"error: {weights}: sha256 ") and "does not match sentence-transformers/all-MiniLM-L6-v2" in err
    )
    assert not out.exists()
    # a plain-only build needs no embedder
    assert (
        main(
            [
                "--raw-dir",
                str(raw_dir),
                "--out",
                str(out),
                "--datasets",
                "iemocap",
                "--max-dialogues",
                "1",
                "--configs",
                "plain",
            ]
        )
        == 0
    )


def test_local_embedder_path_is_used_as_is(private_cache, tmp_path):
    local = tmp_path / "my-embedder"
    with zipfile.ZipFile(packaged_archive(PACKAGED[DEFAULT_EMBEDDER])) as zf:
        zf.extractall(local)
    emb = Embedder(str(local), cache_dir=tmp_path / "emb")
    assert emb.resolved.location == str(local) and emb.resolved.fingerprint.startswith("local-")
    assert not (private_cache / "embedders").exists()  # nothing materialised for a local path
    assert emb.encode(["fine"]).shape == (1, 384)


# ---- the public API for new text, and balancing ------------------------------------------


def test_retrieve_for_new_text(small_build):
    base = _rows(small_build["meld"], "plain", "train")
    names = base.features["label"].names
    copy = base[7]
    got = retrieve([copy["utterance"], "Oh my God, I can't believe it!"], base, k=3)
    assert [len(x) for x in got] == [3, 3]
    top = got[0][0]
    assert set(top) == {"dialogue_id", "turn", "source", "label", "score", "speaker", "utterance"}
    assert top["utterance"] == copy["utterance"] and top["score"] == pytest.approx(1, abs=1e-5)
    assert names.index(top["label"]) >= 0 and got[0][0]["score"] >= got[0][1]["score"] >= got[0][2]["score"]
    # excluding the query's own dialogue
    mine = (copy["source"], copy["dialogue_id"])
    again = retrieve([copy["utterance"]], base, k=3, exclude=[mine])
    assert all((d["source"], d["dialogue_id"]) != mine for d in again[0])
    with pytest.raises(DataError, match="exclude: 2 entries for 1 queries"):
        retrieve(["x"], base, exclude=[mine, mine])
    with pytest.raises(DataError, match="missing column"):
        retrieve(["x"], base.remove_columns("speaker"))


def test_balancing_one_per_label_and_mmr(raw_dir, tmp_path):
    kw = dict(max_dialogues=3, configs=("default",), top_k=3, progress=False)
    plain = build_datasets(raw_dir, tmp_path / "n", ["iemocap"], **kw)["iemocap"]
    label = build_datasets(raw_dir, tmp_path / "l", ["iemocap"], balance="label", **kw)["iemocap"]
    mmr = build_datasets(raw_dir, tmp_path / "m", ["iemocap"], balance="mmr", **kw)["iemocap"]
    for a, b, c in zip(*(_rows(f, "default", "validation") for f in (plain, label, mmr))):
        labels = [d["label"] for d in b["demonstrations"]]
        assert len(labels) == 3 and len(set(labels)) == 3
        # each label's demonstration is that label's best: none of the plain top-3 beats it
        for d in a["demonstrations"]:
            same = [x for x in b["demonstrations"] if x["label"] == d["label"]]
            assert not same or same[0]["score"] >= d["score"] - 1e-6
        first = [{**x["demonstrations"][0], "score": round(x["demonstrations"][0]["score"], 5)} for x in (a, b, c)]
        assert first[0] == first[1] == first[2]  # the best overall is the best of its label, and MMR's first
        assert len(c["demonstrations"]) == 3
    card = DatasetCard.load(label / "README.md")
    assert "| demonstration balancing | label |" in card.text and "at most one per label" in card.text


def test_bad_retrieval_options(raw_dir, tmp_path):
    with pytest.raises(DataError, match="--top-k: 0 must be >= 1"):
        build_datasets(raw_dir, tmp_path, top_k=0)
    with pytest.raises(DataError, match="--query: 'nope' is not one of"):
        build_datasets(raw_dir, tmp_path, query="nope")
    with pytest.raises(DataError, match="--balance: 'x' is not one of"):
        build_datasets(raw_dir, tmp_path, balance="x")
