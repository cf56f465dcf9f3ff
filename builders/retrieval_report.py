"""How good the retrieved demonstrations are, measured without any LLM.

For validation and test: **top-1 label agreement** (how often the first demonstration's
label equals the gold label) and the **weighted-F1 of a k-NN vote** over the top-10
neighbours (each neighbour votes for its label with its cosine score). Both read only the
gold labels of the split being measured, never to choose anything; query variants are chosen
on validation only.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from .retrieval import PREVIOUS_WEIGHT, REPORT_NEIGHBOURS, CorpusRetrieval
from .templates import demonstration_section


REPORT_SPLITS: tuple[str, ...] = ("validation", "test")

# Measured with all-MiniLM-L6-v2 on the utterance alone, train as the base, test split
# (percent): top-1 label agreement and weighted-F1 of the score-weighted 10-NN vote.
REFERENCE: dict[str, tuple[float, float]] = {
    "iemocap": (47.3, 49.5),
    "meld": (44.3, 50.5),
    "emorynlp": (27.6, 27.5),
}
QUERY_DESCRIPTIONS = {
    "utterance": "target utterance alone",
    "previous": f"target utterance plus {PREVIOUS_WEIGHT} x the previous turn (vectors summed, re-normalised)",
}


def label_agreement(gold: list[str], base_labels: np.ndarray, indices: np.ndarray) -> float:
    """Share of queries whose top-1 demonstration has the gold label (no demonstration: miss)."""
    if not len(gold):
        return float("nan")
    top = indices[:, 0]
    hit = (top >= 0) & (base_labels[np.maximum(top, 0)] == np.asarray(gold, dtype=object))
    return float(hit.mean())


def knn_votes(base_labels: np.ndarray, scores: np.ndarray, indices: np.ndarray, labels: list[str]) -> np.ndarray:
    """``[n_queries, n_labels]``: each label's summed cosine score among the query's neighbours."""
    position = {name: j for j, name in enumerate(labels)}
    votes = np.zeros((len(indices), len(labels)))
    for col in range(indices.shape[1]):
        valid = indices[:, col] >= 0
        label_ids = np.array([position[x] for x in base_labels[indices[valid, col]]], dtype=np.int64)
        np.add.at(votes, (np.flatnonzero(valid), label_ids), scores[valid, col])
    return votes


def knn_predictions(base_labels: np.ndarray, scores: np.ndarray, indices: np.ndarray, labels: list[str]) -> list[str]:
    """Score-weighted vote of the neighbours; ties go to the label listed first."""
    return [labels[j] for j in knn_votes(base_labels, scores, indices, labels).argmax(axis=1)]


def knn_weighted_f1(
    gold: list[str], base_labels: np.ndarray, scores: np.ndarray, indices: np.ndarray, labels: list[str]
) -> float:
    if not len(gold):
        return float("nan")
    pred = knn_predictions(base_labels, scores, indices, labels)
    return float(f1_score(gold, pred, labels=labels, average="weighted", zero_division=0))


def demonstration_coverage(gold: list[str], base_labels: np.ndarray, indices: np.ndarray) -> float:
    """Share of queries with the gold label among their demonstrations (balancing's measure)."""
    if not len(gold):
        return float("nan")
    hits = np.zeros(len(gold), dtype=bool)
    gold_arr = np.asarray(gold, dtype=object)
    for col in range(indices.shape[1]):
        valid = indices[:, col] >= 0
        hits |= valid & (base_labels[np.maximum(indices[:, col], 0)] == gold_arr)
    return float(hits.mean())


def measure(result: CorpusRetrieval, labels: list[str], splits=REPORT_SPLITS) -> dict[str, dict[str, float]]:
    """The report's numbers per split: agreement, k-NN weighted-F1, coverage of the demos."""
    base_labels = np.array(result.base.label, dtype=object)
    out = {}
    for split in splits:
        r = result.splits.get(split)
        if r is None:
            continue
        gold = r.queries.label
        out[split] = {
            "queries": len(gold),
            "label_agreement": label_agreement(gold, base_labels, r.neighbour_turns),
            "knn_weighted_f1": knn_weighted_f1(gold, base_labels, r.neighbour_scores, r.neighbour_turns, labels),
            "demonstration_coverage": demonstration_coverage(gold, base_labels, r.demo_turns),
            "majority_weighted_f1": majority_weighted_f1(gold, base_labels, labels),
        }
    return out


def majority_weighted_f1(gold: list[str], base_labels: np.ndarray, labels: list[str]) -> float:
    """Weighted-F1 of always answering train's most frequent label: the floor to beat."""
    if not len(gold):
        return float("nan")
    majority = majority_label(base_labels)
    return float(f1_score(gold, [majority] * len(gold), labels=labels, average="weighted", zero_division=0))


def majority_label(base_labels) -> str:
    """Train's most frequent label (ties: the alphabetically first name)."""
    values, counts = np.unique(np.asarray(base_labels, dtype=object), return_counts=True)
    return str(values[np.argmax(counts)])


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"


def log_text(name: str, result: CorpusRetrieval, report: dict) -> str:
    """The report as the build prints it."""
    lines = [
        f"retrieval {name}: top-{result.top_k} demonstrations, query {result.query}, balance {result.balance}, "
        f"embedder {result.embedder}, base {len(result.base)} train turns"
    ]
    for split, m in report.items():
        lines.append(
            f"  {split:<10} {m['queries']:>6} queries  top-1 label agreement {_pct(m['label_agreement']):>5}  "
            f"k-NN({REPORT_NEIGHBOURS}) weighted-F1 {_pct(m['knn_weighted_f1']):>5}  "
            f"gold among demonstrations {_pct(m['demonstration_coverage']):>5}"
        )
    return "\n".join(lines)


def markdown(result: CorpusRetrieval, report: dict, example: dict, reference: str | None = None) -> str:
    """The dataset card's section on the ``default`` template and its retrieval quality."""
    k = result.top_k
    sources = sorted(set(result.base.source))
    base = "the train dialogues of every source" if len(sources) > 1 else "the train split"
    which = "the most similar labelled utterance" if k == 1 else f"the {k} most similar labelled utterances"
    balance = {
        "none": "",
        "label": ", at most one per label (the best of each label)",
        "mmr": ", re-ranked by maximal marginal relevance for diversity",
    }[result.balance]
    coverage = k > 1 or result.balance != "none"
    head = f"| split | queries | top-1 label agreement | k-NN({REPORT_NEIGHBOURS}) weighted-F1 |"
    head += f" gold label among the {k} demonstrations |" if coverage else ""
    head += " majority-class weighted-F1 |"
    rows = []
    for split, m in report.items():
        row = f"| {split} | {m['queries']} | {_pct(m['label_agreement'])} | {_pct(m['knn_weighted_f1'])} |"
        row += f" {_pct(m['demonstration_coverage'])} |" if coverage else ""
        rows.append(row + f" {_pct(m['majority_weighted_f1'])} |")
    ref = ""
    if reference in REFERENCE:
        a, f = REFERENCE[reference]
        ref = (
            f" For comparison, the reference setting (the utterance alone, every train turn a "
            f"candidate) measured {a} label agreement and {f} k-NN weighted-F1 on {reference}'s test split."
        )
    shown = example.get("prompt", "").replace("\t", "\\t")
    one, other = ({"speaker": s, "utterance": "utterance", "label": "label"} for s in ("Speaker_3", "Speaker_0"))
    one_shot, two_shot = ("<plain prompt>" + demonstration_section(d) for d in ([one], [one, other]))
    return f"""## Retrieved demonstrations (`default` config)

`default` is the `plain` prompt followed by a demonstration section, keeping the paper's
skeleton (instruction, history, label statement, demonstrations): {which} from {base}{balance},
best first, each with its speaker, text and label, then `Answer:` so the completion (the
label) still follows the prompt:

```text
{one_shot}
{two_shot}
```

Similarity is the cosine of `{result.embedder}` sentence embeddings, searched exactly; the
query is the {QUERY_DESCRIPTIONS[result.query]}. Identical train utterances are one
candidate, shown by the occurrence with the text's most frequent label. Leak-free by
construction: demonstrations come only from train dialogues, never from validation or test,
and never from the query's own dialogue (train rows included). Each row lists its
demonstrations in the `demonstrations` column (`dialogue_id`, `turn`, `source`, `label`,
`score` = cosine similarity).

Example (`default`, test split, first row):

```text
{shown}
```

### Retrieval quality

{head}
|{"---|" * head.count(" |")}
{chr(10).join(rows)}

Top-1 label agreement: how often the first demonstration's label equals the gold label.
k-NN({REPORT_NEIGHBOURS}): the {REPORT_NEIGHBOURS} nearest train utterances vote for their labels,
each with its cosine score.
The query variant was chosen on validation; test numbers were never used to choose.{ref}"""


__all__ = [
    "REFERENCE",
    "REPORT_NEIGHBOURS",
    "REPORT_SPLITS",
    "demonstration_coverage",
    "knn_predictions",
    "knn_votes",
    "knn_weighted_f1",
    "label_agreement",
    "log_text",
    "majority_label",
    "majority_weighted_f1",
    "markdown",
    "measure",
]
