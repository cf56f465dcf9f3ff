"""An instructerc adapter in the browser: paste a conversation, see the emotion of every turn.

The Space template, published with the adapter by hub/push.py --space; it runs locally too, on the Hub-ready
folders `make demo` writes. It serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860), as a
Space sets them. Prompts, window, retrieval and labels are the adapter's own (`instructerc.eval.prediction`, as
`eval/predict.py`): nothing of the prediction is written here.

Usage:

    python hub/space/app.py --adapter output/hub/instructerc/smollm2-135m-iemocap-lora
    python hub/push.py --folder ADAPTER --repo-id ORG/NAME --space ORG/NAME-demo   # publish it as a Space
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from huggingface_hub import metadata_load
from matplotlib.figure import Figure

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import InstructercError, command
from instructerc.eval.errors import EvalError
from instructerc.eval.prediction import Predictor, conversation_from_lines, conversation_lines, read_conversation


HERE = Path(__file__).resolve().parent
# Example conversations: the Space's own examples/ (copied there at publishing), else the checkout's.
EXAMPLES = next((d for d in (HERE / "examples", HERE.parents[1] / "examples") if d.is_dir()), None)
PLACEHOLDER = "Ann: Guess what? They finally approved the apartment!\nBob: No way. | raises his eyebrows\nAnn: Yes!"


def adapter_id(cli: str | None = None) -> str:
    """Which adapter to serve: the --adapter flag, else the INSTRUCTERC_ADAPTER variable, else the first id under
    `models:` in the README.md beside this file (the Space's card)."""
    chosen = cli or os.environ.get("INSTRUCTERC_ADAPTER")
    if chosen:
        return chosen
    card = HERE / "README.md"
    models = (metadata_load(card) or {}).get("models") if card.is_file() else None
    if not models:
        raise EvalError(
            f"no adapter: pass --adapter ID_OR_FOLDER, set INSTRUCTERC_ADAPTER, or list it under `models:` in {card}"
        )
    return models[0]


def examples() -> list[str]:
    """The example conversations (JSON files in the BYO turn format) as 'Speaker: text' lines."""
    if EXAMPLES is None:
        return [PLACEHOLDER]
    out = [conversation_lines(read_conversation(path)) for path in sorted(EXAMPLES.glob("*.json"))]
    return out or [PLACEHOLDER]


def strip(probs, labels: list[str]) -> str:
    """The heat strip of one turn: a cell per label, shaded by its probability."""
    return "".join(
        f'<td title="{html.escape(label)} {p:.3f}" style="background: rgba(234, 88, 12, {p:.3f}); '
        f'padding: 2px 6px; text-align: center">{p:.2f}</td>'
        for label, p in zip(labels, probs)
    )


def table(dialogue, probs, labels: list[str]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    rows = []
    for t, (turn, row) in enumerate(zip(dialogue.turns, probs)):
        best = int(row.argmax())
        rows.append(
            f'<tr class="turn" data-turn="{t}"><td>{t}</td><td>{html.escape(turn.speaker)}</td>'
            f"<td>{html.escape(turn.text)}</td>"
            f'<td class="emotion"><b>{html.escape(labels[best])}</b></td><td>{row[best]:.3f}</td>'
            f"{strip(row, labels)}</tr>"
        )
    return (
        f'<table id="emotions"><thead><tr><th>turn</th><th>speaker</th><th>text</th><th>emotion</th>'
        f"<th>probability</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def timeline(dialogue, probs, labels: list[str]):
    """The emotion of each turn over the conversation, a dot per turn sized by its probability."""
    fig = Figure(figsize=(8, 2.8))  # no pyplot: no global figure state across requests
    ax = fig.subplots()
    best = probs.argmax(axis=1)
    speakers = sorted({t.speaker for t in dialogue.turns})
    for speaker in speakers:
        turns = [i for i, t in enumerate(dialogue.turns) if t.speaker == speaker]
        ax.scatter(turns, best[turns], s=40 + 260 * probs[turns, best[turns]], label=speaker, alpha=0.8)
    ax.plot(range(len(best)), best, color="grey", linewidth=0.8, zorder=0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.5, len(labels) - 0.5)
    ax.set_xlabel("turn")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), frameon=False)
    fig.tight_layout()
    return fig


def build(predictor: Predictor, name: str) -> gr.Blocks:
    labels = predictor.labels

    def recognize(text: str, upload: str | None):
        try:
            if upload:  # gr.File gives the uploaded file's path
                dialogue = read_conversation(upload)
            else:
                dialogue = conversation_from_lines(text or "")
            probs = predictor.probabilities(dialogue)
        except InstructercError as err:
            return f"**error:** {html.escape(str(err), quote=False)}", "", None, []
        rows = [
            {
                "turn": t,
                "speaker": turn.speaker,
                "text": turn.text,
                "emotion": labels[int(row.argmax())],
                "score": round(float(row.max()), 6),
                "probabilities": dict(zip(labels, map(float, row))),
            }
            for t, (turn, row) in enumerate(zip(dialogue.turns, probs))
        ]
        status = f"{len(rows)} turns: " + ", ".join(r["emotion"] for r in rows)
        return status, table(dialogue, probs, labels), timeline(dialogue, probs, labels), rows

    with gr.Blocks(title=f"{name}: emotions in conversation", analytics_enabled=False) as page:
        gr.Markdown(
            f"# Emotion recognition in conversation\n"
            f"Adapter **{html.escape(name)}** on base model **{html.escape(str(predictor.task.base_model))}** "
            f"(instructerc). One `Speaker: text` line per turn; `Speaker: text | description` adds what the "
            f"speaker does (DialogueLLM's visual context). Labels: {', '.join(labels)}."
        )
        with gr.Row():
            text = gr.Textbox(label="conversation", lines=8, placeholder=PLACEHOLDER, elem_id="conversation")
            upload = gr.File(label="or a JSON file (a dialogue object or a list of turns)", file_types=[".json"])
        button = gr.Button("Recognize emotions", variant="primary", elem_id="recognize")
        status = gr.Markdown(elem_id="status")
        shown = gr.HTML(elem_id="table")
        plot = gr.Plot(label="emotion timeline")
        rows = gr.JSON(label="per turn", visible=False)
        button.click(recognize, [text, upload], [status, shown, plot, rows], api_name="recognize")
        gr.Examples([[e] for e in examples()], inputs=[text])
    return page


@dataclass
class AppArgs:
    """The flags of hub/space/app.py."""

    adapter: str | None = field(
        default=None,
        metadata={"help": "adapter Hub id or folder (default: INSTRUCTERC_ADAPTER, else the card's models)"},
    )


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "hub/space/app.py", [AppArgs], argv)
    adapter = adapter_id(args.adapter)
    predictor = Predictor.from_pretrained(adapter)
    build(predictor, Path(adapter).name if Path(adapter).exists() else adapter).launch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
