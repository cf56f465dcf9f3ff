"""The gate before publishing: a card must load, carry what the Hub needs, and hide no token.

A card that the Hub rejects, or that a reader parses differently from us, fails after the upload
or, worse, silently; so every push checks first that the README.md parses with `huggingface_hub`'s
own `ModelCard.load`/`DatasetCard.load`, round-trips through its YAML unchanged, names its base
model by Hub id, lists data files that exist, and that its `.eval_results/*.yaml` files parse.
`load_card` is how the package reads a card elsewhere too (adapter cards, Spaces, eval results); readers that
need only the YAML metadata use `huggingface_hub.metadata_load`.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from huggingface_hub import DatasetCard, EvalResultEntry, ModelCard, SpaceCard, parse_eval_result_entries
from huggingface_hub.utils import HFValidationError, validate_repo_id

from instructerc.builders.errors import one_line
from instructerc.builders.files import is_adapter

from .errors import CardError, redact
from .licenses import folder_sources
from .scores import is_number


EVAL_RESULTS_DIR = ".eval_results"


def is_hub_id(text: object) -> bool:
    """``text`` is a repo id the Hub accepts (``NAME`` or ``ORG/NAME``); an absolute path never is."""
    try:
        validate_repo_id(str(text))
    except HFValidationError:
        return False
    return True


def load_card(card_class, path: Path):
    """``card_class.load(path)`` with strict metadata; a card that does not parse is one `CardError` line."""
    try:
        return card_class.load(path, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as err:
        raise CardError(f"{path}: the card does not parse: {one_line(err, None)}") from None


def read_eval_results(folder: str | Path) -> list[EvalResultEntry]:
    """The `.eval_results/*.yaml` entries of a folder, parsed by `huggingface_hub`."""
    entries: list[EvalResultEntry] = []
    for path in sorted((Path(folder) / EVAL_RESULTS_DIR).glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            entries.extend(parse_eval_result_entries(data))
        except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as err:
            raise CardError(f"{path}: not a valid eval results file ({type(err).__name__}: {err})") from None
    return entries


def validate_card(path: str | Path, kind: str):
    """Check a README.md card (or the folder holding it) before publishing; returns the loaded card.

    `kind` is "dataset", "model" or "space". Raises `CardError` with one line naming the first problem.
    """
    cards = {"dataset": DatasetCard, "model": ModelCard, "space": SpaceCard}
    if kind not in cards:
        raise ValueError(f"kind must be one of {', '.join(cards)}, got {kind!r}")
    path = Path(path)
    readme = path / "README.md" if path.is_dir() else path
    folder = readme.parent
    if not readme.is_file():
        raise CardError(f"{readme} does not exist: a {kind} repo needs a README.md card")
    card = load_card(cards[kind], readme)
    data = card.data.to_dict()
    if not data:
        raise CardError(f"{readme}: the card has no YAML metadata block")
    reloaded = type(card)(str(card), ignore_metadata_errors=False).data.to_dict()
    if reloaded != data:
        changed = sorted(k for k in set(data) | set(reloaded) if data.get(k) != reloaded.get(k))
        raise CardError(f"{readme}: the YAML metadata does not round-trip (keys {', '.join(changed)})")
    if redact(str(card)) != str(card):
        raise CardError(f"{readme}: the card contains something shaped like an access token; remove it")
    folder_sources(folder)  # `instructerc_sources` must be a list of names
    if kind == "dataset":
        _check_dataset_card(data, readme, folder)
    elif kind == "space":
        _check_space_card(data, readme, folder)
    else:
        _check_model_card(card, data, readme, folder)
    return card


def _check_space_card(data: dict, readme: Path, folder: Path) -> None:
    """The Spaces config keys a Space cannot start without, and repo ids where repos are named."""
    for key in ("sdk", "sdk_version", "app_file"):
        if not data.get(key):
            raise CardError(f"{readme}: the Space card states no `{key}`")
    if not (folder / data["app_file"]).is_file():
        raise CardError(f"{readme}: `app_file` {data['app_file']!r} is not in the folder")
    for key in ("models", "datasets"):
        for repo in data.get(key) or []:
            if not is_hub_id(repo):
                raise CardError(f"{readme}: `{key}` must list Hub ids, got {repo!r}")


def _check_dataset_card(data: dict, readme: Path, folder: Path) -> None:
    if not data.get("license"):
        raise CardError(f"{readme}: the dataset card states no `license`")
    for config in data.get("configs") or []:
        name = config.get("config_name") if isinstance(config, dict) else None
        files = config.get("data_files") if isinstance(config, dict) else None
        if not name or not files:
            raise CardError(f"{readme}: every entry of `configs` needs `config_name` and `data_files`")
        specs = files if isinstance(files, list) else [files]
        for spec in specs:
            patterns = spec.get("path") if isinstance(spec, dict) else spec
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                if not _matches_a_file(folder, pattern):
                    raise CardError(f"{readme}: config {name!r} lists {pattern!r}, which matches no file")


def _matches_a_file(folder: Path, pattern) -> bool:
    """Whether a ``data_files`` pattern matches a file of the folder; one that is not a relative pattern
    (an absolute path, ``..``, an empty or malformed glob) matches none: the Hub resolves them in the repo."""
    if not isinstance(pattern, str) or not pattern or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        return False
    try:
        return any(path.is_file() for path in folder.glob(pattern))
    except (ValueError, NotImplementedError):  # pathlib's refusal of a malformed glob, e.g. "data/**.parquet"
        return False


def _check_model_card(card: ModelCard, data: dict, readme: Path, folder: Path) -> None:
    base_model = data.get("base_model")
    for model in base_model if isinstance(base_model, list) else [base_model]:
        if not model or not is_hub_id(model):
            raise CardError(f"{readme}: `base_model` must be the Hub id of the base model, got {base_model!r}")
    if not data.get("library_name"):
        raise CardError(f"{readme}: the model card states no `library_name`")
    if is_adapter(folder) and data.get("library_name") != "peft":
        raise CardError(f"{readme}: an adapter folder's card needs `library_name: peft`")
    for result in card.data.eval_results or []:
        if not is_number(result.metric_value):
            raise CardError(
                f"{readme}: model-index value {result.metric_value!r} for {result.dataset_type} is not a number"
            )
    read_eval_results(folder)
