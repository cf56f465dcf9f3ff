"""Make the tiny LLaMA used by the tests, the demo and the CPU recipe.

Usage:

    python train/make_tiny_model.py OUT_DIR [--dataset output/instructerc/iemocap] [--seed 0]

The tokenizer is trained on the built dataset's train prompts (build it first with
builders/build.py); the model is a real LlamaForCausalLM with random weights.
"""

from __future__ import annotations

import argparse

from instructerc.train.tiny_model import DEFAULTS, dataset_texts, make_tiny_model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--dataset", default="output/instructerc/iemocap", help="built dataset folder or Hub id")
    p.add_argument("--config", default="plain")
    p.add_argument("--seed", type=int, default=0)
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
        p.add_argument(f"--{key.replace('_', '-')}", type=int, default=DEFAULTS[key])
    p.add_argument("--initializer-range", type=float, default=DEFAULTS["initializer_range"])
    args = vars(p.parse_args(argv))
    out_dir, dataset, config, seed = (args.pop(k) for k in ("out_dir", "dataset", "config", "seed"))
    args["num_key_value_heads"] = args["num_attention_heads"]
    path = make_tiny_model(out_dir, dataset_texts(dataset, config), seed=seed, **args)
    print(f"tiny model: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
