"""Predict the emotion of every turn of a conversation with a trained adapter.

Usage:

    python eval/predict.py --adapter instructerc/llama2-7b-iemocap-lora --conversation conv.json

    # local folders; the base model defaults to the one in the adapter's erc_task.json
    python eval/predict.py --adapter output/tiny-lora --conversation conv.json --json

conv.json holds one dialogue in the builders' BYO turn format, `dialogue_id` and `split`
optional, or just the list of turns:

    {"turns": [{"speaker": "Ann", "text": "Guess what?"},
               {"speaker": "Bob", "text": "What?", "description": "raises an eyebrow"}]}

Prints one line per turn: index, speaker, emotion, score (its probability among the labels), text; with
--json, a JSON list of {"turn", "speaker", "text", "emotion", "score"}. Prompts are built as in training. The
task file names the dataset and base model by Hub id; beside a local adapter folder ROOT/ORG/NAME, ROOT/<id>
is used when it exists, so Hub-ready folders work offline. Exit status 2 with one `error:` line on bad input.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command


@dataclass
class PredictArgs:
    """The flags of eval/predict.py."""

    adapter: str = field(metadata={"help": "LoRA adapter Hub id or folder (with erc_task.json)"})
    conversation: str = field(metadata={"help": "JSON file: a dialogue object or a list of turns"})
    model: str | None = field(default=None, metadata={"help": "base model (default: the adapter's)"})
    dataset: str | None = field(
        default=None,
        metadata={"help": "retrieval base for default-config adapters (default: the adapter's dataset)"},
    )
    embedder: str | None = field(
        default=None,
        metadata={"help": "embedder folder, for a dataset built with a local one (checked by sha256)"},
    )
    allow_base_mismatch: bool = False
    adapter_revision: str | None = None
    device: str | None = None
    dtype: str = "auto"
    batch_size: int | None = field(
        default=None, metadata={"help": "prompts per forward pass (default: eval/scoring.py's BATCH_SIZE)"}
    )
    json: bool = field(default=False, metadata={"help": "print JSON instead of a table"})


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "eval/predict.py", [PredictArgs], argv)

    from instructerc.eval.prediction import Predictor, format_predictions, read_conversation

    dialogue = read_conversation(args.conversation)  # bad input fails before any model is loaded
    predictor = Predictor.from_pretrained(
        args.adapter,
        args.model,
        dataset=args.dataset,
        allow_base_mismatch=args.allow_base_mismatch,
        device=args.device,
        dtype=args.dtype,
        **({"batch_size": args.batch_size} if args.batch_size is not None else {}),
        revision=args.adapter_revision,
        embedder=args.embedder,
    )
    predictions = predictor.predict(dialogue)
    if args.json:
        rows = [
            {"turn": t, "speaker": turn.speaker, "text": turn.text, "emotion": label, "score": round(score, 6)}
            for t, (turn, (label, score)) in enumerate(zip(dialogue.turns, predictions))
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(format_predictions(dialogue, predictions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
