"""instructerc.hub: publish built datasets and trained adapters to the Hugging Face Hub.

- `publish.push_folder`: idempotent, retried pushes of a Hub-ready folder (the CLI is `hub/push.py`);
- `cards`: adapter model cards, evaluation results (`model-index` and `.eval_results/`), card validation;
- `licenses`: the sources a folder derives from, and the IEMOCAP licence guard;
- `errors`: `HubError`, the one-line failure every entry point raises.

Everything goes through `huggingface_hub`, against whatever `HF_ENDPOINT` names.
"""
