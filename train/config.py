"""The script arguments of ``train/sft.py`` beside TRL's ``SFTConfig`` and ``ModelConfig``.

A recipe is one YAML file read by ``TrlParser``: keys of ``ERCScriptArguments``, of ``SFTConfig`` and
of ``ERCModelConfig`` (TRL's ``ModelConfig`` and two PEFT options it lacks) side by side, and any of
them can be overridden on the command line. A key that none of the three knows is an error, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from trl import ModelConfig

from instructerc.builders.balancing import BALANCES
from instructerc.builders.errors import InstructercError, one_line
from instructerc.builders.retrieval import QUERY_VARIANTS
from instructerc.builders.tasks import CONFIGS, EMOTION_CONFIGS
from instructerc.eval.scoring import BATCH_SIZE
from instructerc.hub.scores import CARD_METRICS


OVERLONG_POLICIES: tuple[str, ...] = ("auto", "drop", "error")
SELECTION_METRIC = "weighted_f1"  # model selection's default: label scoring on validation (callbacks.py)
# what a run can select on: the card's metrics (WeightedF1Callback logs them as eval_<metric>) and validation loss
SELECTION_METRICS: tuple[str, ...] = (*CARD_METRICS, "loss")


class RecipeError(InstructercError, ValueError):
    """A recipe (YAML or command line) that cannot run: the message names the field, in one line.

    Raised before any model is loaded; ``train/sft.py`` prints it as ``error: <message>`` and exits 2.
    """


@dataclass
class ERCScriptArguments:
    """What to train on and how to select and evaluate the model.

    The dataset is a built instructerc dataset: a Hub id (``instructerc/iemocap``) or a local folder
    (``output/instructerc/iemocap``), with one config, or a weighted mixture of configs for the
    multi-task setup.
    """

    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub id or local folder of a built instructerc dataset."}
    )
    dataset_config: str = field(
        default="default",
        metadata={"help": f"Config to train on: one of {', '.join(CONFIGS)}. Ignored when dataset_mixture is set."},
    )
    dataset_mixture: dict[str, float] | str | None = field(
        default=None,
        metadata={
            "help": "Multi-task mixture {config: weight} (JSON on the command line): each config's train split "
            "contributes round(weight * rows) rows, sampled with `seed` (weight > 1 repeats rows)."
        },
    )
    dataset_revision: str | None = field(default=None, metadata={"help": "Hub revision of the dataset."})
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_eval_split: str = field(
        default="validation", metadata={"help": "Split for model selection (never the test split)."}
    )
    dataset_test_split: str = field(default="test", metadata={"help": "Split evaluated once, after training."})
    eval_config: str | None = field(
        default=None,
        metadata={
            "help": "Config whose validation/test labels are scored. Default: dataset_config, or for a mixture "
            "its first emotion-recognition config (default, plain)."
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on N rows (a seeded random sample, after mixing): smoke runs."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Score N validation rows (a seeded random sample) at each evaluation."}
    )
    max_test_samples: int | None = field(
        default=None, metadata={"help": "Score N test rows (a seeded random sample) at the end."}
    )
    do_test: bool = field(default=True, metadata={"help": "Score the test split once, at the end."})
    scoring_batch_size: int = field(default=BATCH_SIZE, metadata={"help": "Prompts per batch in label scoring."})
    overlong: str = field(
        default="auto",
        metadata={
            "help": "Rows longer than max_length: `auto` drops the row where truncation would cut its label "
            "(truncation_mode keep_start, the default, or packing) and keeps it under keep_end without packing "
            "(deprecated by TRL 1.16, to go in 2.0), which cuts the prompt's oldest text; `drop` always drops; "
            "`error` refuses to train. The count is logged either way."
        },
    )
    init_adapter: str | None = field(
        default=None,
        metadata={
            "help": "Continue training this LoRA adapter (folder or Hub id) instead of a new one: stage 2 of "
            "the speaker-identification -> emotion curriculum."
        },
    )
    base_model_id: str | None = field(
        default=None,
        metadata={
            "help": "Hub id of the base model, for the card, erc_task.json and adapter_config.json, when "
            "model_name_or_path is a local copy of it (without one the run cannot be published)."
        },
    )
    dataset_id: str | None = field(
        default=None,
        metadata={
            "help": "Hub id the dataset is published under, when dataset_name is a local folder (default: "
            "ORG/NAME from the builder's layout OUT/ORG/NAME)."
        },
    )
    # The dataset is the one source of its prompt settings (its card's `instructerc:` block): erc_task.json is
    # written from it. A recipe may repeat one, only to assert it: a value the dataset contradicts is an error.
    window: int | None = field(default=None, metadata={"help": "Only to assert: the dataset's historical window."})
    top_k: int | None = field(
        default=None, metadata={"help": "Only to assert: the dataset's demonstrations per prompt (`default`)."}
    )
    embedder: str | None = field(default=None, metadata={"help": "Only to assert: the dataset's embedder id."})
    query: str | None = field(
        default=None,
        metadata={"help": "Only to assert: the dataset's retrieval query variant.", "choices": list(QUERY_VARIANTS)},
    )
    balance: str | None = field(
        default=None,
        metadata={"help": "Only to assert: the dataset's demonstration balancing.", "choices": list(BALANCES)},
    )
    confirm_iemocap_license: bool = field(
        default=False,
        metadata={"help": "You hold the IEMOCAP licence: allow a public push of an IEMOCAP-derived adapter."},
    )

    # Keys the recipe set (YAML and command line), in order: what recipe.yaml records. Filled by parse_recipe.
    recipe_keys: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        if isinstance(self.dataset_mixture, str):
            try:
                self.dataset_mixture = json.loads(self.dataset_mixture)
            except json.JSONDecodeError as e:
                raise RecipeError(f"dataset_mixture: not a JSON mapping {{config: weight}} ({e})") from None

    @property
    def train_configs(self) -> dict[str, float]:
        """The configs to train on with their weights (a single config has weight 1)."""
        if self.dataset_mixture:
            return dict(self.dataset_mixture)
        return {self.dataset_config: 1.0}

    @property
    def selection_config(self) -> str:
        """The config whose labels model selection and the test score use."""
        if self.eval_config:
            return self.eval_config
        configs = list(self.train_configs)
        return next((c for c in configs if c in EMOTION_CONFIGS), configs[0])


@dataclass
class ERCModelConfig(ModelConfig):
    """TRL's ``ModelConfig`` with the PEFT options of ``train.model.add_adapter``."""

    lora_layers_to_transform: list[int] | None = field(
        default=None,
        metadata={
            "help": "Decoder layers that get LoRA adapters (PEFT layers_to_transform; default all). Adapting only "
            "the top layers stops backpropagation at the lowest adapted one: less time and memory per step. Needs "
            "lora_target_modules as a list of module names."
        },
    )
    lora_autocast_adapter_dtype: bool = field(
        default=True,
        metadata={
            "help": "PEFT's autocast_adapter_dtype: keep the LoRA weights of a bf16/fp16 model in fp32 (the PEFT "
            "default). false keeps them in the model's dtype, so no LoRA layer casts its input to fp32."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        layers = self.lora_layers_to_transform
        if layers is not None and (
            not isinstance(layers, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in layers)
        ):  # a YAML value is not type-converted by argparse
            raise RecipeError(f"lora_layers_to_transform: {layers!r} is not a list of layer numbers, e.g. [28, 29]")
        if layers is not None and self.lora_target_modules in (None, "all-linear"):
            raise RecipeError(
                f"lora_layers_to_transform: needs lora_target_modules as a list of module names, not "
                f"{self.lora_target_modules!r} (PEFT places only named modules in some layers)"
            )


def make_parser(doc: str | None = None):
    """``TrlParser`` over the three dataclasses of a recipe, its help from ``doc`` (train/sft.py's docstring)
    with every key's default shown: TRL's own help rarely says it."""
    from trl import SFTConfig

    from instructerc.builders.cli import DefaultsHelpFormatter
    from instructerc.builders.cli import make_parser as script_parser

    dataclasses = [ERCScriptArguments, SFTConfig, ERCModelConfig]
    parser = script_parser(doc, "train/sft.py", dataclasses, config=True, formatter_class=DefaultsHelpFormatter)
    # This toolkit selects on validation weighted-F1. It must be the parser's default: with
    # load_best_model_at_end, TrainingArguments.__post_init__ turns an unset metric into "loss".
    parser.set_defaults(metric_for_best_model=SELECTION_METRIC)
    return parser


def parse_recipe(argv: list[str] | None = None, doc: str | None = None):
    """``(script_args, training_args, model_args)`` from ``--config RECIPE.yaml`` and command-line overrides.

    Unknown keys, in the YAML or on the command line, are a ``RecipeError`` naming them, as are
    values the dataclasses reject. ``doc`` is the ``--help`` text (train/sft.py passes its docstring).
    """
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    where = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else "command line"
    import yaml

    parser = make_parser(doc)

    def refuse(message: str):  # argparse's error(): a value of the wrong type, in the recipe or on the command line
        flag = re.match(r"argument (\S+):", message)
        names = flag[1].split("/") if flag else []
        on_cli = any(a.split("=")[0] in names for a in argv)
        raise RecipeError(f"{'command line' if on_cli else where}: {message}")

    parser.error = refuse
    try:
        *parsed, from_yaml, from_cli = parser.parse_args_and_config(
            argv, return_remaining_strings=True, separate_remaining_strings=True
        )
    except RecipeError:
        raise
    except (ValueError, TypeError, OSError, yaml.YAMLError) as e:
        raise RecipeError(f"{where}: {one_line(e, None)}") from None
    for source, rest in ((where, from_yaml), ("command line", from_cli)):
        keys = [s.lstrip("-").split("=")[0] for s in rest if s.startswith("--")]
        if keys or rest:
            raise RecipeError(
                f"{source}: unknown key(s) {', '.join(keys) or ' '.join(rest)}; "
                "see `python train/sft.py --help` for the recipe keys"
            )
    script_args = parsed[0]
    script_args.recipe_keys = list(dict.fromkeys(_yaml_keys(argv) + flag_keys(argv)))
    return tuple(parsed)


def _yaml_keys(argv: list[str]) -> list[str]:
    import yaml

    if "--config" not in argv[:-1]:
        return []
    with open(argv[argv.index("--config") + 1]) as f:
        return [k for k in (yaml.safe_load(f) or {}) if k != "env"]


def flag_keys(argv: list[str]) -> list[str]:
    """The recipe keys a command line sets: ``--max-steps=5`` and ``--no_packing`` name max_steps and packing."""
    keys = []
    for arg in argv:
        if arg.startswith("--") and arg != "--config":
            key = arg[2:].split("=")[0].replace("-", "_")
            keys.append(key[3:] if key.startswith("no_") else key)
    return keys
