"""The README.md card of a LoRA adapter trained with instructerc, from the template beside this file.

Built with `huggingface_hub`'s `ModelCard`/`ModelCardData` (as the builders build dataset cards
with `DatasetCard`), so the YAML metadata is exactly what the Hub parses. A card is often made
before the repo id is known (a local training run); its usage snippet then loads the folder, and
`set_repo_id` writes the id in at push time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import jinja2
import yaml
from huggingface_hub import ModelCard, ModelCardData

from instructerc.builders.atomic import atomic_file
from instructerc.builders.naming import repo_name

from .card_validation import load_card
from .errors import SECRET_FIELDS, redact
from .eval_results import eval_section, to_eval_result
from .licenses import SOURCES_KEY, license_lines, sources_from_dataset_ids
from .scores import EvalScore, as_scores


TEMPLATE = Path(__file__).with_name("adapter_card.md")
_USAGE_START, _USAGE_END = "<!-- instructerc:usage:start -->", "<!-- instructerc:usage:end -->"


def _usage(base_model: str, repo_id: str | None, name: str) -> str:
    """The usage snippet, between markers so that a push can write the repo id in (``set_repo_id``)."""
    code = jinja2.Template(TEMPLATE.read_text(encoding="utf-8")).module.usage_code(base_model, repo_id, name)
    return f"{_USAGE_START}\n{code}\n{_USAGE_END}"


def _clean_recipe(recipe: Mapping | str | None) -> str | None:
    """The recipe as YAML text, without its credential keys (``SECRET_FIELDS``) or anything token-shaped."""
    if recipe is None:
        return None
    if isinstance(recipe, str):
        return redact(recipe.strip())

    def clean(value):
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items() if str(k) not in SECRET_FIELDS}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return redact(value) if isinstance(value, str) else value
        return redact(str(value))

    return yaml.safe_dump(clean(recipe), sort_keys=False, allow_unicode=True).strip()


def make_adapter_card(
    *,
    base_model: str,
    datasets: Sequence[str],
    recipe: Mapping | str | None = None,
    eval_results: Iterable[EvalScore | Mapping] = (),
    model_name: str | None = None,
    repo_id: str | None = None,
    sources: Iterable[str] | None = None,
    license: str | None = None,
    language: str | list[str] | None = "en",
    pipeline_tag: str = "text-generation",
    tags: Iterable[str] = (),
    description: str | None = None,
) -> ModelCard:
    """The README.md card of a LoRA adapter trained with instructerc.

    Args:
        base_model: Hub id of the base model the adapter applies to.
        datasets: Hub ids of the training datasets (e.g. `["instructerc/unified"]`).
        recipe: the training recipe (a mapping such as an SFT config dict, or YAML text); keys ending in
            "token" are dropped and token-shaped values redacted.
        eval_results: `EvalScore`s or mappings (see `scores.as_scores`), written as `model-index` and in the text.
        model_name: name used in `model-index` and the title (default: the repo name, or "instructerc-adapter").
        repo_id: where the adapter will be published, for the usage snippet (without one, the snippet loads a
            folder called `model_name`, and a push writes the repo id in: `set_repo_id`).
        sources: benchmarks the training data derives from (`instructerc_sources`); instructerc dataset ids
            such as `ORG/iemocap` or `ORG/unified` add theirs, so the IEMOCAP licence guard cannot be
            bypassed by forgetting this argument.
        license: licence id for the adapter itself, if you want to state one.
    """
    scores = as_scores(eval_results)
    dataset_ids = [str(d) for d in datasets]
    all_sources = list(dict.fromkeys([*(s.lower() for s in sources or ()), *sources_from_dataset_ids(dataset_ids)]))
    name = model_name or (repo_name(repo_id) if repo_id else "instructerc-adapter")
    card_data = ModelCardData(
        base_model=base_model,
        library_name="peft",
        pipeline_tag=pipeline_tag,
        datasets=dataset_ids or None,
        language=language,
        license=license,
        tags=list(dict.fromkeys(["peft", "lora", "instructerc", "emotion-recognition-in-conversation", *tags])),
        model_name=name,
        eval_results=[to_eval_result(s) for s in scores] or None,
        **({SOURCES_KEY: all_sources} if all_sources else {}),  # read by the licence guard (hub/licenses.py)
    )
    default_description = (
        f"A LoRA adapter for `{base_model}` that recognises emotions in conversation, fine-tuned with "
        "instructerc (InstructERC / DialogueLLM recipes)" + (" on the datasets below." if dataset_ids else ".")
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        title=name,
        description=redact(description) if description else default_description,
        usage=_usage(base_model, repo_id, name),
        dataset_ids=dataset_ids,
        license_rows=license_lines(all_sources),
        recipe=_clean_recipe(recipe),
        eval_section=eval_section(scores),
    )


def set_repo_id(folder: str | Path, repo_id: str) -> bool:
    """Name an instructerc adapter card after the repo it is pushed to: title, `model_name` and
    usage snippet. Returns whether the card changed (an unchanged card is not rewritten, so a
    repeated push stays idempotent); cards without the usage markers are left alone."""
    readme = Path(folder) / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if _USAGE_START not in text:
        return False
    card = load_card(ModelCard, readme)
    name = repo_name(repo_id)
    old = card.data.model_name
    card.data.model_name = name
    if old:
        card.text = re.sub(rf"^# {re.escape(old)}$", lambda _: f"# {name}", card.text, count=1, flags=re.M)
    start, end = card.text.index(_USAGE_START), card.text.index(_USAGE_END) + len(_USAGE_END)
    card.text = card.text[:start] + _usage(str(card.data.base_model), repo_id, name) + card.text[end:]
    if str(card) == text:
        return False
    with atomic_file(readme, "w") as f:  # a new file: a hard link to the card elsewhere is never written through
        f.write(str(card))
    return True


_SPACE_START, _SPACE_END = "<!-- instructerc:space:start -->", "<!-- instructerc:space:end -->"


def link_space(folder: str | Path, space_id: str) -> bool:
    """Link an adapter card to the Space that serves it (a "Try it" line after the usage snippet, or
    the one there replaced). Returns whether the card changed; an unchanged card is not rewritten."""
    readme = Path(folder) / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if _USAGE_END not in text:
        return False
    line = (
        f"{_SPACE_START}\nTry it in the browser: [{space_id}](/spaces/{space_id}), "
        f"a Space that shows the emotion of every turn of a conversation you paste.\n{_SPACE_END}"
    )
    if _SPACE_START in text:
        start, end = text.index(_SPACE_START), text.index(_SPACE_END) + len(_SPACE_END)
        new = text[:start] + line + text[end:]
    else:
        at = text.index(_USAGE_END) + len(_USAGE_END)
        new = text[:at] + "\n\n" + line + text[at:]
    if new == text:
        return False
    with atomic_file(readme, "w") as f:
        f.write(new)
    return True
