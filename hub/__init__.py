"""instructerc.hub: publish built datasets and trained adapters to the Hugging Face Hub.

- `publish.push_folder`: idempotent, retried pushes of a Hub-ready folder (the CLI is `hub/push.py`);
- `adapter_card`, `spaces`: adapter model cards and the Gradio Space that serves an adapter;
- `scores`, `eval_results`: evaluation results as `model-index` and `.eval_results/`;
- `card_validation`, `licenses`, `portability`: what every push checks (cards, the IEMOCAP licence, no path
  of this machine); `errors`: `HubError`.

Everything goes through `huggingface_hub`, against whatever `HF_ENDPOINT` names.
"""
