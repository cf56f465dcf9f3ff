"""Make the tiny LLaMA used by the tests, the demo and the CPU recipe.

Usage:

    python train/make_tiny_model.py --out_dir OUT_DIR [--dataset output/instructerc/iemocap] [--seed 0]

The tokenizer is trained on the built dataset's train prompts (build it first with
builders/build.py); the model is a real LlamaForCausalLM with random weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.train.tiny_model import DEFAULTS, dataset_texts, make_tiny_model


@dataclass
class TinyModelArgs:
    """Where the model goes, the data its tokenizer learns from, and the model's sizes (``DEFAULTS``)."""

    out_dir: str = field(metadata={"help": "folder the model and its tokenizer are saved to"})
    dataset: str = field(default="output/instructerc/iemocap", metadata={"help": "built dataset folder or Hub id"})
    dataset_config: str = field(default="plain", metadata={"help": "config whose train prompts train the tokenizer"})
    seed: int = 0
    vocab_size: int = DEFAULTS["vocab_size"]
    hidden_size: int = DEFAULTS["hidden_size"]
    intermediate_size: int = DEFAULTS["intermediate_size"]
    num_hidden_layers: int = DEFAULTS["num_hidden_layers"]
    num_attention_heads: int = DEFAULTS["num_attention_heads"]
    initializer_range: float = DEFAULTS["initializer_range"]


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "train/make_tiny_model.py", [TinyModelArgs], argv)
    sizes = asdict(args)
    out_dir, dataset, config, seed = (sizes.pop(k) for k in ("out_dir", "dataset", "dataset_config", "seed"))
    sizes["num_key_value_heads"] = sizes["num_attention_heads"]
    path = make_tiny_model(out_dir, dataset_texts(dataset, config), seed=seed, **sizes)
    print(f"tiny model: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
