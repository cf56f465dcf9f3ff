"""Publish a Hub-ready folder (a built dataset repo, or a trained LoRA adapter) to the Hugging Face Hub.

Usage:

    # a built dataset; data derived from IEMOCAP goes public only with --confirm-iemocap-license
    python hub/push.py --folder output/instructerc/unified --repo-id instructerc/unified --private

    # publicly, when you hold the IEMOCAP licence from USC SAIL
    python hub/push.py --folder output/instructerc/unified --repo-id instructerc/unified --confirm-iemocap-license

    # a trained adapter (the repo type is detected from adapter_config.json), on a branch; a training run's
    # folder works as it is: its checkpoint-*/, runs/ and training_args.bin are never uploaded
    python hub/push.py --folder output/runs/llama-lora --repo-id ORG/llama-lora --revision exp-1 --private

    # an adapter and a Gradio Space that serves it (hub/space/app.py, instructerc's wheel, requirements.txt);
    # the adapter card links to the Space. A private adapter's Space needs an HF_TOKEN secret to read it.
    python hub/push.py --folder output/hub/instructerc/smollm2-135m-iemocap-lora --repo-id ORG/smollm2-iemocap-lora \\
        --private --space ORG/smollm2-iemocap-demo

The token comes from HF_TOKEN or `hf auth login`; the Hub is whatever HF_ENDPOINT names. Pushing an
unchanged folder again makes no commit, and files on the Hub that are not in the folder are kept.
Also runs as `python -m instructerc.hub.push`; the Python API is `instructerc.hub.publish.push_folder`.
"""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.builders.files import ADAPTER_CONFIG, is_adapter
from instructerc.hub.adapter_card import link_space
from instructerc.hub.errors import HubError
from instructerc.hub.licenses import check_publication, folder_sources
from instructerc.hub.publish import MAX_RETRIES, REPO_TYPES, push_folder
from instructerc.hub.spaces import checked_space, push_space


def detect_repo_type(folder: str | Path) -> str:
    """`model` for a trained adapter or model folder, `dataset` otherwise."""
    folder = Path(folder)
    is_model = is_adapter(folder) or (folder / "config.json").is_file()
    return "model" if is_model else "dataset"


@dataclass
class PushArgs:
    """The flags of hub/push.py."""

    folder: str = field(metadata={"help": "the Hub-ready folder to publish"})
    repo_id: str = field(metadata={"help": "ORG/NAME on the Hub"})
    repo_type: str | None = field(
        default=None,
        metadata={
            "help": "default: model for a folder with adapter_config.json or config.json, else dataset",
            "choices": list(REPO_TYPES),
        },
    )
    private: bool = field(default=False, metadata={"help": "create the repo private (existing repos keep theirs)"})
    revision: str | None = field(
        default=None, metadata={"help": "branch to push to (created from main if missing); default main"}
    )
    commit_message: str | None = field(default=None, metadata={"help": "default: 'Upload N files with instructerc'"})
    confirm_iemocap_license: bool = field(
        default=False,
        metadata={"help": "you hold the IEMOCAP licence and may publish IEMOCAP-derived content publicly"},
    )
    max_retries: int = field(
        default=MAX_RETRIES, metadata={"help": f"retries of transient Hub failures (default {MAX_RETRIES})"}
    )
    space: str | None = field(
        default=None,
        metadata={
            "help": "also publish a Gradio Space serving the adapter (model folders with adapter_config.json); "
            "same visibility and licence guard as the adapter",
            "metavar": "ORG/NAME",
        },
    )


def parse_args(argv: list[str] | None = None) -> PushArgs:
    """The push's flags, from ``argv`` (default: the command line)."""
    (args,) = parse_command_line(__doc__, "hub/push.py", [PushArgs], argv)
    return args


@command
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Our progress at INFO; libraries (httpx logs every request at INFO) only at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("instructerc").setLevel(logging.INFO)
    options = dict(
        private=args.private, confirm_iemocap_license=args.confirm_iemocap_license, max_retries=args.max_retries
    )
    repo_type = args.repo_type or detect_repo_type(args.folder)
    if args.space:
        if repo_type != "model" or not is_adapter(args.folder):
            raise HubError(f"--space: {args.folder} is not an adapter folder (no {ADAPTER_CONFIG})")
        check_publication(
            folder_sources(args.folder),
            public=not args.private,
            confirmed=args.confirm_iemocap_license,
            target=f"space repo {args.space}",
        )
    # the Space is made and checked first: nothing is linked or pushed for a Space that cannot be made
    with checked_space(args.folder, args.repo_id, args.space) if args.space else nullcontext() as space:
        if space:
            link_space(args.folder, args.space)
        results = [
            push_folder(
                args.folder,
                args.repo_id,
                repo_type=repo_type,
                revision=args.revision,
                commit_message=args.commit_message,
                **options,
            )
        ]
        if space:
            results.append(push_space(space, args.repo_id, args.space, **options))
    for result in results:
        print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
