"""The build settings of a dataset, machine-readable: the ``instructerc:`` block of its card.

A built dataset is the one source of the settings its prompts were made with (window,
demonstrations, embedder, template version, label sets) and of what it was made from (the
sha256 of every raw file, the train fraction and seed). Training, evaluation and prediction
read them from the dataset's card, by folder or by Hub id at a revision, instead of keeping
copies that can drift: what a model is trained on is what it is served. The card's human
"Build parameters" table is rendered from the same values (``BuildSettings.rows``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from .embedder import embedder_name
from .errors import DataError, one_line
from .mixing import DEFAULT_SEED
from .tasks import CONFIGS


SETTINGS_KEY = "instructerc"
FORMAT = 1  # of this block; a reader refuses a newer one rather than misreading it
# The settings that shape each config's prompts: two datasets whose values agree here give
# the same prompt for the same conversation.
PROMPT_SETTINGS: dict[str, tuple[str, ...]] = {
    "default": ("template_version", "window", "top_k", "embedder", "query", "balance"),
    "plain": ("template_version", "window"),
    "prediction": ("template_version", "window"),
    "speaker": ("template_version",),
}
# Keys a recipe may repeat (only to assert them: a contradiction is an error).
RECIPE_SETTINGS: tuple[str, ...] = ("window", "top_k", "embedder", "query", "balance")


@dataclass(frozen=True)
class BuildSettings:
    window: int
    template_version: int
    labels: dict[str, list[str]]  # config -> its answer set, in label-id order
    sources: list[dict]  # raw files: {file (name, never a path), sha256}
    train_fraction: str = "1"
    mix: str | None = None  # unified only
    seed: int = DEFAULT_SEED
    max_dialogues: int | None = None
    # the default config's demonstrations (None without that config)
    top_k: int | None = None
    embedder: dict | None = None  # {id (None for a local folder), revision, sha256}
    query: str | None = None
    balance: str | None = None
    format: int = field(default=FORMAT)

    def to_metadata(self) -> dict:
        """The YAML block, in a fixed key order (the card's bytes depend on it), ``format`` first;
        no value is shared between keys, so the YAML has no anchors."""
        data = {"format": self.format} | {f.name: getattr(self, f.name) for f in fields(self)}
        return json.loads(json.dumps(data))  # fresh objects: identical label lists stay two lists

    @classmethod
    def from_metadata(cls, data, where: str) -> BuildSettings:
        """Read and check the block; ``where`` names the card in errors."""
        if not isinstance(data, dict):
            raise DataError(
                f"{where}: no `{SETTINGS_KEY}:` block of build settings in the card; rebuild it with builders/build.py"
            )
        if not isinstance(data.get("format"), int) or data["format"] > FORMAT:
            raise DataError(
                f"{where}: `{SETTINGS_KEY}.format` {data.get('format')!r} is not one this version reads (<= {FORMAT})"
            )
        known = {f.name for f in fields(cls)}
        settings = cls(**{k: v for k, v in data.items() if k in known})
        for name, kind in (("window", int), ("template_version", int), ("seed", int)):
            if not isinstance(getattr(settings, name), kind) or isinstance(getattr(settings, name), bool):
                raise DataError(
                    f"{where}: `{SETTINGS_KEY}.{name}` must be an integer, got {getattr(settings, name)!r}"
                )
        labels = settings.labels
        if (
            not isinstance(labels, dict)
            or not labels
            or not all(
                c in CONFIGS and isinstance(v, list) and v and all(isinstance(x, str) for x in v)
                for c, v in labels.items()
            )
        ):
            raise DataError(f"{where}: `{SETTINGS_KEY}.labels` must map configs to their label names, got {labels!r}")
        if "default" in labels and not (isinstance(settings.top_k, int) and isinstance(settings.embedder, dict)):
            raise DataError(f"{where}: `{SETTINGS_KEY}` has a default config but no top_k/embedder")
        return settings

    def prompt_values(self, config: str) -> dict:
        """The settings that shape ``config``'s prompts, plus its label set."""
        keys = PROMPT_SETTINGS.get(config, ("template_version", "window"))
        return {k: getattr(self, k) for k in keys} | {"labels": self.labels.get(config)}

    def rows(self) -> list[tuple[str, object]]:
        """The card's human table, from the same values as the block."""
        e = self.embedder or {}
        embedder = embedder_name(e) + (f" @ {e['revision'][:12]}" if e.get("revision") else "")
        rows: list[tuple[str, object]] = [
            ("window", self.window),
            ("train_fraction", self.train_fraction),
            ("mix", self.mix or "—"),
            ("seed", self.seed),
            ("max_dialogues per split", self.max_dialogues or "all"),
        ]
        if self.top_k is not None:
            rows += [
                ("demonstrations per prompt (top_k)", self.top_k),
                ("embedder", embedder),
                ("query variant", self.query),
                ("demonstration balancing", self.balance),
            ]
        rows += [("template version", self.template_version)]
        rows += [(f"raw file `{s['file']}` (sha256)", f"`{s['sha256']}`") for s in self.sources]
        return rows


def mismatches(expected: dict, settings: BuildSettings, config: str) -> list[tuple[str, object, object]]:
    """``(key, expected value, the dataset's value)`` where ``expected`` (values recorded with a
    model, or a recipe's) contradicts ``settings`` for ``config``'s prompts. An embedder given
    by name matches the dataset's id; keys absent from ``expected`` are not compared."""
    theirs = settings.prompt_values(config)
    out = []
    for key, value in expected.items():
        if key not in theirs or value is None:
            continue
        have = theirs[key]
        if key == "embedder":
            value = value.get("id") if isinstance(value, dict) else value
            have = (have or {}).get("id")
        if value != have:
            out.append((key, value, have))
    return out


def describe_mismatches(found: list[tuple[str, object, object]], ours: str, theirs: str) -> str:
    """One line naming every contradicting value: ``top_k: 1 in X, 3 in Y``."""
    return "; ".join(f"{key}: {a!r} in {ours}, {b!r} in {theirs}" for key, a, b in found)


def read_card_metadata(dataset: str | Path, revision: str | None = None) -> tuple[dict, str | None]:
    """The YAML metadata of a dataset card and the Hub commit it was read at (None for a folder).

    A local folder is read from its README.md; a Hub id is resolved to a commit first, so
    the caller can read every file at that same commit."""
    import yaml
    from huggingface_hub import HfApi, hf_hub_download, metadata_load

    if Path(dataset).is_dir():
        readme, sha = Path(dataset) / "README.md", None
        if not readme.is_file():
            raise DataError(f"{dataset}: not a built dataset folder (no README.md card)")
    else:
        try:
            sha = HfApi().dataset_info(str(dataset), revision=revision).sha
            readme = Path(hf_hub_download(str(dataset), "README.md", repo_type="dataset", revision=sha))
        except Exception as err:  # noqa: BLE001 - one line naming the dataset, whatever the Hub answered
            detail = one_line(err, 200)
            raise DataError(
                f"{dataset}: cannot read its card as a local folder or a Hub dataset ({type(err).__name__}: {detail})"
            ) from None
    try:
        return metadata_load(readme) or {}, sha
    except (yaml.YAMLError, ValueError) as err:
        raise DataError(f"{readme}: the card's YAML does not parse ({one_line(err, 200)})") from None


def read_settings(dataset: str | Path, revision: str | None = None) -> tuple[BuildSettings, str | None]:
    """``(settings, commit)`` of a built dataset, a local folder or a Hub id (at ``revision``)."""
    metadata, sha = read_card_metadata(dataset, revision)
    where = f"{dataset}" + (f"@{sha[:12]}" if sha else "")
    return BuildSettings.from_metadata(metadata.get(SETTINGS_KEY), where), sha


__all__ = [
    "FORMAT",
    "PROMPT_SETTINGS",
    "RECIPE_SETTINGS",
    "SETTINGS_KEY",
    "BuildSettings",
    "describe_mismatches",
    "mismatches",
    "read_card_metadata",
    "read_settings",
]
