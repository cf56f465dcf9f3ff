"""An independent reimplementation of the official InstructERC prompt, for the tests.

Written from the official ``data_process.py`` / ``data_process_mixed.py`` logic (string
building and the cut of the target turn at its tab), straight from the pickles, sharing no
code with ``instructerc.builders``.
"""

from __future__ import annotations

import pickle


FILES = {"iemocap": "iemocap/iemocap.pkl", "meld": "meld/meld.pkl", "emorynlp": "emorynlp/EmoryNLP.pkl"}
LABEL_SET = {
    "iemocap": ["happy", "sad", "neutral", "angry", "excited", "frustrated"],
    "meld": ["neutral", "surprise", "fear", "sad", "joyful", "disgust", "angry"],
    "emorynlp": ["Joyful", "Mad", "Peaceful", "Neutral", "Sad", "Powerful", "Scared"],
}
UNIFIED_SET = {
    "iemocap": ["joyful", "sad", "neutral", "mad", "excited", "fear"],
    "meld": ["neutral", "powerful", "fear", "sad", "joyful", "disgust", "mad"],
    "emorynlp": ["joyful", "mad", "peaceful", "neutral", "sad", "powerful", "fear"],
}
UNIFIED_TEXT = "joyful, sad, neutral, mad, excited, fear, disgust, peaceful, powerful"
OFFSET = {"iemocap": 0, "meld": 2, "emorynlp": 10}


def cp1252_fix(text: str) -> str:
    """MELD's Windows-1252 bytes read as Latin-1, written back as the characters they are."""
    out = ""
    for ch in text:
        if 0x80 <= ord(ch) <= 0x9F:
            out += ch.encode("latin-1").decode("cp1252")
        elif ch == "\xa0":
            out += " "
        else:
            out += ch
    return out


def official_rows(raw_dir, dataset: str, window: int = 12, unified: bool = False):
    """Yield (split, dialogue_id, turn, prompt, target, gold_id) like the official scripts."""
    data = pickle.load(open(f"{raw_dir}/{FILES[dataset]}", "rb"), encoding="latin1")
    if dataset == "meld":
        sentences, ids = data[3], {"train": data[4], "test": data[5], "validation": data[6]}
    else:
        sentences, ids = data[2], {"train": data[3], "test": data[4], "validation": data[5]}
    offset = OFFSET[dataset] if unified else 0
    labels = UNIFIED_SET[dataset] if unified else LABEL_SET[dataset]
    label_text = UNIFIED_TEXT if unified else ", ".join(LABEL_SET[dataset])
    for split in ("train", "validation", "test"):
        for conv_id in ids[split]:
            if dataset == "iemocap":
                speakers = [0 if s == "M" else 1 for s in data[0][conv_id]]
            else:
                speakers = [list(s).index(1) + offset for s in data[0][conv_id]]
            utts = [cp1252_fix(u) for u in sentences[conv_id]]
            for turn in range(len(utts)):
                s = "Now you are expert of sentiment and emotional analysis. "
                s += "The following conversation noted between '### ###' involves several speakers. ### "
                start = max(turn - window, 0)
                for spk, sent in zip(speakers[start : turn + 1], utts[start : turn + 1]):
                    s += f'\t Speaker_{spk}:"{sent}"'
                target = s.split("\t")[-1]
                s += " ### "
                s += f"Please select the emotional label of <{target}> from <{label_text}>:"
                gold = int(data[1][conv_id][turn])
                yield split, str(conv_id), turn, s, labels[gold], gold
