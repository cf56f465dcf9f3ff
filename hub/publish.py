"""Publish a Hub-ready folder (a built dataset repo or a trained adapter) with `huggingface_hub`.

A push is idempotent, because `create_commit` is: an unchanged folder makes no commit, so a retried push never
commits twice, and the whole push is what is retried on a transient failure. Remote files missing locally are
kept, never deleted; the token is never logged or put in a message.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token, metadata_load
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

from instructerc import __version__
from instructerc.builders.errors import one_line

from .adapter_card import set_repo_id
from .card_validation import is_hub_id, validate_card
from .errors import HubError, http_status, is_transient, redact, translate
from .licenses import check_publication, folder_sources
from .portability import check_portable


logger = logging.getLogger(__name__)

REPO_TYPES = ("dataset", "model", "space")
DEFAULT_BRANCH = "main"
MAX_RETRIES = 4  # transient Hub failures push_folder retries (hub/push.py --max-retries)
MAX_RETRY_WAIT = 30.0
# A training run's own files (globs as `upload_folder` takes them): never part of a published model, whichever
# command pushes the folder, so a run folder is published as `train/sft.py` publishes it.
TRAINING_RUN_FILES = ("checkpoint-*", "runs/", "training_args.bin")


@dataclass(frozen=True)
class PushResult:
    """What a push did: the head commit afterwards, the files published, and the remote-only ones kept."""

    repo_id: str
    repo_type: str
    revision: str
    commit_oid: str  # head of `revision` after the push
    commit_url: str | None  # the commit this push made; None when nothing had changed
    files: tuple[str, ...]  # the folder's files (huggingface_hub uploaded only those that changed)
    remote_only: tuple[str, ...]  # on the Hub but not in the folder: kept

    @property
    def changed(self) -> bool:
        return self.commit_url is not None

    def __str__(self) -> str:
        where = f"{self.repo_type} repo {self.repo_id}@{self.revision}"
        if not self.changed:
            return f"{where}: up to date at {self.commit_oid[:12]} ({len(self.files)} files), no commit made"
        return f"{where}: committed the changes among {len(self.files)} files as {self.commit_url}"


def local_files(folder: str | Path, repo_type: str) -> dict[str, Path]:
    """The files a push publishes, chosen as `upload_folder` chooses them: everything under `folder`
    except what `huggingface_hub` never uploads and, for a model, a training run's own files
    (``TRAINING_RUN_FILES``)."""
    root = Path(folder)
    paths = {p.relative_to(root).as_posix(): p for p in sorted(root.glob("**/*")) if p.is_file()}
    ignored = [*DEFAULT_IGNORE_PATTERNS, *(TRAINING_RUN_FILES if repo_type == "model" else ())]
    return {rel: paths[rel] for rel in filter_repo_objects(paths, ignore_patterns=ignored)}


def copy_publishable(folder: str | Path, dest: str | Path, repo_type: str) -> Path:
    """Copy exactly what a push of ``folder`` would upload (``local_files``) to ``dest``, which must
    not exist: a Hub-ready folder made without pushing."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    for rel, path in local_files(folder, repo_type).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / rel)
    return dest


def validate_folder(folder: str | Path, repo_type: str, files: dict[str, Path] | None = None) -> None:
    """What every push checks before anything is uploaded, for Hub-ready folders made without a
    push too: the README.md card (a dataset needs one) and that none of the files a push uploads
    holds a path of this machine. Raises ``CardError`` with one line."""
    files = local_files(folder, repo_type) if files is None else files
    if repo_type in ("dataset", "space") or "README.md" in files:
        validate_card(folder, repo_type)
    else:
        logger.warning("%s has no README.md: the %s will be published without a card", folder, repo_type)
    check_portable(folder, files, repo_type)


def resolve_token(token: str | None = None) -> str:
    """The write token: the argument, else `HF_TOKEN`, else the `huggingface_hub` login."""
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login` with a token that can write")
    return token


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    repo_type: str = "dataset",
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    confirm_iemocap_license: bool = False,
    token: str | None = None,
    max_retries: int = MAX_RETRIES,
    retry_wait: float = 2.0,
) -> PushResult:
    """Publish `folder` as `repo_id` (created if needed) on branch `revision` (default main; created if needed).

    The Hub is the one `HF_ENDPOINT` names. A model never publishes a training run's checkpoints, logs or
    pickled arguments (``TRAINING_RUN_FILES``). Refuses
    (`LicenseError`) to make IEMOCAP-derived content public without `confirm_iemocap_license`, also when the
    target repo already exists as a public repo. An instructerc adapter card is first named after `repo_id`
    (`set_repo_id`, in the folder). Validates the folder first (`validate_folder`: the README.md card, required
    for datasets, and no path of this machine in any file). Retries transient failures up to `max_retries`
    times, waiting `retry_wait` seconds, doubled each time. Raises `HubError` with one line on failure;
    returns a `PushResult`.
    """
    folder = Path(folder)
    files, sources = _check_push(folder, repo_id, repo_type, private, confirm_iemocap_license)
    push = _Push(
        api=HfApi(token=resolve_token(token), library_name="instructerc", library_version=__version__),
        folder=folder,
        files=files,
        repo_id=repo_id,
        repo_type=repo_type,
        private=private,
        revision=revision or DEFAULT_BRANCH,
        commit_message=commit_message or f"Upload {len(files)} files with instructerc",
        sources=sources,
        confirmed=confirm_iemocap_license,
    )
    return _with_retries(push, max_retries, retry_wait)


def _check_push(folder: Path, repo_id: str, repo_type: str, private: bool, confirmed: bool):
    """Everything a push refuses before it talks to the Hub; returns the files to upload and the data's sources."""
    if repo_type not in REPO_TYPES:
        raise HubError(f"--repo-type must be one of {', '.join(REPO_TYPES)}, got {repo_type!r}")
    if repo_id.count("/") != 1 or not is_hub_id(repo_id):
        raise HubError(f"--repo-id must look like ORG/NAME, got {repo_id!r}")
    if not folder.is_dir():
        raise HubError(f"{folder} is not a folder")
    files = local_files(folder, repo_type)
    if not files:
        raise HubError(f"{folder} holds no file to publish")
    sources = folder_sources(folder)
    check_publication(sources, public=not private, confirmed=confirmed, target=f"{repo_type} repo {repo_id}")
    if repo_type == "model" and set_repo_id(folder, repo_id):
        logger.info("%s/README.md now names the adapter %s", folder, repo_id)
    validate_folder(folder, repo_type, files)
    return files, sources


def _with_retries(push: _Push, max_retries: int, retry_wait: float) -> PushResult:
    """Run the push, retrying transient failures with a doubling wait; any other failure is one HubError."""
    for attempt in range(max_retries + 1):
        try:
            return push.run()
        except HubError:
            raise
        except Exception as err:  # noqa: BLE001 - every failure becomes one HubError line below
            if _worth_retrying(err) and attempt < max_retries:
                wait = min(retry_wait * 2**attempt, MAX_RETRY_WAIT)
                status = f", HTTP {http_status(err)}" if http_status(err) is not None else ""
                logger.warning(
                    "transient failure while trying to %s (%s%s); retrying in %.2fs (attempt %d of %d)",
                    push.action,
                    type(err).__name__,
                    status,
                    wait,
                    attempt + 2,
                    max_retries + 1,
                )
                time.sleep(wait)
                continue
            logger.debug("push failed: %s", redact(one_line(err, None), push.api.token))
            raise translate(
                err,
                action=push.action,
                repo_id=push.repo_id,
                repo_type=push.repo_type,
                revision=push.revision if push.revision != DEFAULT_BRANCH else None,
                token=push.api.token,
                attempts=attempt + 1,
            ) from None
    raise AssertionError("unreachable")


def _worth_retrying(err: BaseException) -> bool:
    """Transient failures, and 412 (someone committed after we compared: planning again is the fix)."""
    return is_transient(err) or http_status(err) == 412


@dataclass
class _Push:
    """One attempt at publishing; `action` names the step in progress, for messages.

    The Hub's preupload answer carries the oid of every file already there, and `huggingface_hub` drops the
    files whose content matches (no commit when nothing is left). The head read before the commit is its
    parent, so a commit made by someone else in between is refused (412) and the push planned again.
    """

    api: HfApi
    folder: Path
    files: dict[str, Path]
    repo_id: str
    repo_type: str
    private: bool
    revision: str
    commit_message: str
    sources: list[str]
    confirmed: bool
    action: str = "start"

    def run(self) -> PushResult:
        api, repo_id, repo_type = self.api, self.repo_id, self.repo_type
        self.action = "create the repo"
        # a Space is created with the SDK its card names (`sdk: gradio`)
        sdk = {"space_sdk": metadata_load(self.folder / "README.md")["sdk"]} if repo_type == "space" else {}
        api.create_repo(repo_id, repo_type=repo_type, private=self.private, exist_ok=True, **sdk)
        self.action = "read the repo"
        info = api.repo_info(repo_id, repo_type=repo_type)
        # The repo may already exist with another visibility than asked for: the guard follows the real one.
        check_publication(
            self.sources, public=not info.private, confirmed=self.confirmed, target=f"{repo_type} repo {repo_id}"
        )
        if info.private and not self.private:
            logger.info("%s repo %s exists and is private; it stays private", repo_type, repo_id)
        if self.revision != DEFAULT_BRANCH:
            self.action = f"create the branch {self.revision}"
            api.create_branch(repo_id, branch=self.revision, repo_type=repo_type, exist_ok=True)
        self.action = "list the remote files"
        if self.revision != DEFAULT_BRANCH:
            info = api.repo_info(repo_id, repo_type=repo_type, revision=self.revision)
        head = info.sha
        remote = {
            f.path
            for f in api.list_repo_tree(repo_id, repo_type=repo_type, revision=head, recursive=True)
            if isinstance(f, RepoFile)
        }
        remote_only = tuple(sorted(remote - set(self.files) - {".gitattributes"}))
        if remote_only:
            logger.warning(
                "%d file(s) on the Hub are not in %s and are kept (pushes never delete): %s",
                len(remote_only),
                self.folder,
                ", ".join(remote_only[:10]) + (" ..." if len(remote_only) > 10 else ""),
            )
        result = dict(
            repo_id=repo_id,
            repo_type=repo_type,
            revision=self.revision,
            files=tuple(self.files),
            remote_only=remote_only,
        )
        self.action = "upload and commit"
        # create_commit skips the files the Hub already holds, and makes no commit if that is all of them
        commit = api.create_commit(
            repo_id,
            operations=[
                CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(path)) for p, path in self.files.items()
            ],
            commit_message=self.commit_message,
            repo_type=repo_type,
            revision=self.revision,
            parent_commit=head,  # refuse (and re-plan on retry) if someone committed since we read the head
        )
        if commit.oid == head:
            logger.info("%s repo %s@%s is up to date: no commit made", repo_type, repo_id, self.revision)
            return PushResult(commit_oid=head, commit_url=None, **result)
        logger.info("committed %s", commit.commit_url)
        return PushResult(commit_oid=commit.oid, commit_url=commit.commit_url, **result)
