"""ERC metric: weighted-F1 (the papers' headline) with the numbers needed to read it.

Load it by path, offline: ``evaluate.load("eval/metrics/erc")``. Its description (``_DESCRIPTION``, the
metric card) says how unparseable answers count and what the intervals are.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from instructerc.builders.citations import INSTRUCTERC
from instructerc.eval.bootstrap import Bootstrap, confidence_intervals
from instructerc.eval.metric import UNPARSEABLE


_DESCRIPTION = """
Emotion recognition in conversation: weighted-F1 (headline), accuracy, macro-F1, per-class
precision/recall/F1/support, the confusion matrix over the label set, and the rate of
unparseable predictions (id -1). Equal to scikit-learn with labels=range(num_labels) and
zero_division=0. Optionally, percentile-bootstrap confidence intervals for weighted-F1,
accuracy and macro-F1, resampling utterances or whole dialogues.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids; -1 marks an unparseable prediction.
    references (list of int): gold label ids.
    label_names (list of str, optional): the label set in id order; its length is the
        number of labels and its names key the per-class table.
    num_labels (int, optional): number of labels when no names are given (default: 1 + the
        largest id seen).
    confidence_level (float, optional): e.g. 0.95 to add bootstrap intervals (default: none).
    ci_unit (str, optional): "dialogue" (resample whole dialogues; the default when
        dialogue_ids are given) or "utterance" (the default otherwise).
    dialogue_ids (list of str, optional): the dialogue of each example.
    n_resamples (int, optional): bootstrap resamples (default 1000).
    seed (int, optional): seed of the resampling (default 0); same seed, same intervals.
Returns:
    weighted_f1, accuracy, macro_f1, unparseable_rate, num_examples (numbers; F1s and
    rates in [0, 1]), per_class ({name: {precision, recall, f1, support}}), labels (names),
    confusion_matrix (rows gold, columns predicted, label ids in order), unparseable
    (per gold class, the unparseable predictions). With confidence_level:
    confidence_intervals ({metric: {low, high, standard_error}} for weighted_f1, accuracy,
    macro_f1) and bootstrap (method, unit, units, n_resamples, seed, confidence_level).
Examples:
    >>> erc = evaluate.load("eval/metrics/erc")
    >>> erc.compute(predictions=[0, 1, -1], references=[0, 1, 1], label_names=["happy", "sad"])["accuracy"]
    0.6666666666666666
"""

_CITATION = INSTRUCTERC


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Erc(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=["https://arxiv.org/abs/2309.11911"],
        )

    def _compute(
        self,
        predictions,
        references,
        label_names=None,
        num_labels=None,
        confidence_level=None,
        ci_unit=None,
        dialogue_ids=None,
        n_resamples=Bootstrap.n_resamples,
        seed=Bootstrap.seed,
    ):
        pred = np.asarray(predictions, dtype=np.int64)
        gold = np.asarray(references, dtype=np.int64)
        if label_names is not None:
            label_names = [str(x) for x in label_names]
            if num_labels is not None and num_labels != len(label_names):
                raise ValueError(f"num_labels={num_labels} but {len(label_names)} label_names")
            num_labels = len(label_names)
        elif num_labels is None:
            num_labels = int(max(gold.max(initial=-1), pred.max(initial=-1))) + 1
        if len(gold) == 0:
            raise ValueError("no examples to score")
        if gold.min() < 0 or gold.max() >= num_labels:
            raise ValueError(f"references must be label ids in [0, {num_labels}), got {sorted(set(gold.tolist()))}")
        bad = pred[(pred < UNPARSEABLE) | (pred >= num_labels)]
        if len(bad):
            raise ValueError(
                f"predictions must be label ids in [0, {num_labels}) or -1, got {sorted(set(bad.tolist()))}"
            )
        names = label_names or [str(i) for i in range(num_labels)]
        ids = list(range(num_labels))
        p, r, f, s = precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
        unparseable = pred == UNPARSEABLE
        result = {
            "weighted_f1": float(f1_score(gold, pred, labels=ids, average="weighted", zero_division=0)),
            "accuracy": float(accuracy_score(gold, pred)),
            "macro_f1": float(f1_score(gold, pred, labels=ids, average="macro", zero_division=0)),
            "unparseable_rate": float(unparseable.mean()),
            "num_examples": int(len(gold)),
            "labels": names,
            "per_class": {
                n: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                for i, n in enumerate(names)
            },
            "confusion_matrix": confusion_matrix(gold, pred, labels=ids).tolist(),
            "unparseable": np.bincount(gold[unparseable], minlength=num_labels).tolist(),
        }
        if confidence_level is not None:
            unit = ci_unit or ("dialogue" if dialogue_ids is not None else "utterance")
            boot = Bootstrap(unit=unit, n_resamples=n_resamples, seed=seed, confidence_level=confidence_level)
            intervals, settings = confidence_intervals(gold, pred, num_labels, boot, dialogue_ids)
            result.update(confidence_intervals=intervals, bootstrap=settings)
        return result
