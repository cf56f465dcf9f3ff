"""Reader for the COSMIC-processed pickles of IEMOCAP, MELD and EmoryNLP.

The files are the ones the official InstructERC repository redistributes; they are fetched
from a pinned commit and verified by sha256, or read from a local directory (``--raw-dir``).
Every structural assumption the prompts rely on is checked here, with messages that name
the file and dialogue, because a silently misaligned dialogue would corrupt every prompt
built from it.
"""

from __future__ import annotations

import os
import pickle
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_file
from .corpus import Corpus, Dialogue, Turn, repair_cp1252
from .errors import DataError
from .files import cache_root, sha256_file
from .labels import LABELS, LICENSES, SPEAKER_SLOTS, speaker_tag


UPSTREAM = (
    "https://raw.githubusercontent.com/LIN-SHANG/InstructERC/44014f11e76f27da43253501cdf6fdb08f058d0c/original_data/"
)


@dataclass(frozen=True)
class RawFile:
    local: str  # path under --raw-dir
    upstream: str  # path under UPSTREAM
    sha256: str
    # pickle list positions: speakers, labels, utterances, train, test, valid ids
    layout: tuple[int, int, int, int, int, int]


RAW_FILES: dict[str, RawFile] = {
    "iemocap": RawFile(
        "iemocap/iemocap.pkl",
        "iemocap/iemocap.pkl",
        "85f15be1fbd8678e0dd443a11ac609615f0e990cc0ca1551fdf86f98b9e6067f",
        (0, 1, 2, 3, 4, 5),
    ),
    "meld": RawFile(
        "meld/meld.pkl",
        "meld/meld.pkl",
        "3713dab8c0b1d3ae4bb40251599fc6aff687cad1c2468e2f4b50554705a260f8",
        (0, 1, 3, 4, 5, 6),
    ),
    "emorynlp": RawFile(
        "emorynlp/EmoryNLP.pkl",
        "EmoryNLP/EmoryNLP.pkl",
        "047b493e1c399374c3075d1defb33b094c887d1198feb463e9e645de20550a77",
        (0, 1, 2, 3, 4, 5),
    ),
}


def locate(benchmark: str, raw_dir: str | os.PathLike | None, verify: bool = True) -> Path:
    """Path of a benchmark's pickle: from ``raw_dir``, or downloaded into the cache."""
    spec = RAW_FILES[benchmark]
    if raw_dir is not None:
        path = Path(raw_dir) / spec.local
        if not path.is_file():
            raise DataError(f"{path}: file not found (expected the COSMIC {benchmark} pickle)")
    else:
        path = cache_root() / "raw" / spec.local
        if not path.is_file():
            _download(UPSTREAM + spec.upstream, path)
    if verify:
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise DataError(
                f"{path}: sha256 {digest} does not match the published {spec.sha256} "
                "(truncated or modified file; pass --skip-sha256 only for a deliberately "
                "modified copy)"
            )
    return path


def _download(url: str, dest: Path) -> None:
    try:
        with atomic_file(dest) as out, urllib.request.urlopen(url, timeout=30) as resp:
            while block := resp.read(1 << 20):
                out.write(block)
    except (urllib.error.URLError, OSError) as e:
        raise DataError(
            f"cannot download {url} ({getattr(e, 'reason', e)}); "
            "pass --raw-dir DIR with a local copy of the COSMIC pickles"
        ) from None


def load_pickle(path: Path) -> list:
    try:
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, ImportError, IndexError) as e:
        raise DataError(f"{path}: cannot unpickle ({type(e).__name__}: {e}); truncated or corrupt file") from None
    return data


def _speaker(benchmark: str, raw, where: str) -> int:
    if benchmark == "iemocap":
        if raw not in ("M", "F"):
            raise DataError(f"{where}: speaker {raw!r} is not 'M' or 'F'")
        return 0 if raw == "M" else 1
    onehot = [int(x) for x in raw]
    if len(onehot) != SPEAKER_SLOTS[benchmark] or sorted(onehot)[-1] != 1 or sum(onehot) != 1:
        raise DataError(f"{where}: speaker vector {onehot} is not one-hot over {SPEAKER_SLOTS[benchmark]} slots")
    return onehot.index(1)


def read_cosmic(
    benchmark: str,
    raw_dir: str | os.PathLike | None = None,
    verify: bool = True,
    speaker_offset: int = 0,
) -> Corpus:
    """Read one benchmark into a ``Corpus`` with its original labels.

    ``speaker_offset`` shifts speaker ids as the official unified script does.
    """
    spec = RAW_FILES[benchmark]
    path = locate(benchmark, raw_dir, verify)
    data = load_pickle(path)
    if not isinstance(data, list) or len(data) <= max(spec.layout):
        raise DataError(f"{path}: not a COSMIC {benchmark} pickle (expected a list of {max(spec.layout) + 1} items)")
    i_spk, i_lab, i_utt, i_train, i_test, i_valid = spec.layout
    speakers, labels, utterances = data[i_spk], data[i_lab], data[i_utt]
    for what, obj in (("speakers", speakers), ("labels", labels), ("utterances", utterances)):
        if not isinstance(obj, dict):
            raise DataError(f"{path}: item {what} is {type(obj).__name__}, expected a dict of dialogues")
    names = LABELS[benchmark]
    seen: dict[str, str] = {}
    dialogues: list[Dialogue] = []
    for split, index in (("train", i_train), ("validation", i_valid), ("test", i_test)):
        for raw_id in data[index]:
            did = str(raw_id)
            where = f"{path}: {benchmark} dialogue {did}"
            if did in seen:
                if seen[did] == split:
                    raise DataError(f"{where}: listed twice in split {split}")
                raise DataError(f"{where}: listed in two splits ({seen[did]} and {split})")
            seen[did] = split
            try:
                spk, lab, utt = speakers[raw_id], labels[raw_id], utterances[raw_id]
            except KeyError as e:
                raise DataError(f"{where}: missing from the {e} dict") from None
            if not (len(spk) == len(lab) == len(utt)):
                raise DataError(
                    f"{where}: {len(spk)} speakers, {len(lab)} labels, {len(utt)} utterances "
                    "(lists of different lengths)"
                )
            if not utt:
                raise DataError(f"{where}: empty dialogue")
            turns = []
            for t, (s, y, u) in enumerate(zip(spk, lab, utt)):
                at = f"{where} turn {t}"
                y = int(y)
                if not 0 <= y < len(names):
                    raise DataError(f"{at}: label id {y} out of range 0..{len(names) - 1}")
                if not isinstance(u, str) or not u.strip():
                    raise DataError(f"{at}: empty utterance")
                sid = _speaker(benchmark, s, at) + speaker_offset
                turns.append(Turn(speaker_tag(sid), repair_cp1252(u, at), names[y]))
            dialogues.append(Dialogue(did, split, turns, benchmark))
    slots = range(speaker_offset, speaker_offset + SPEAKER_SLOTS[benchmark])
    return Corpus(
        name=benchmark,
        labels=list(names),
        speakers=[speaker_tag(i) for i in slots],
        dialogues=dialogues,
        sources=[benchmark],
        license=LICENSES[benchmark],
        origin=f"{UPSTREAM}{spec.upstream} (sha256 {spec.sha256})",
        raw_files=[{"file": spec.local, "sha256": spec.sha256 if verify else sha256_file(path)}],
    )
