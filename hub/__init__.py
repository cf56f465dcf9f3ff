"""instructerc.hub: publish built datasets and trained adapters to the Hugging Face Hub.

- `publish.push_folder`: idempotent, retried pushes of a Hub-ready folder (the CLI is `hub/push.py`);
- `adapter_card`: adapter model cards, from the template `adapter_card.md`;
- `scores` and `eval_results`: evaluation results, as `model-index` and `.eval_results/`;
- `card_validation`: what every push checks of a card;
- `licenses`: the sources a folder derives from, and the IEMOCAP licence guard;
- `portability`: no file that can be published holds a path of this machine;
- `errors`: `HubError`, the one-line failure every entry point raises.

Everything goes through `huggingface_hub`, against whatever `HF_ENDPOINT` names. This package
imports only `instructerc.builders` (the order is builders <- hub <- eval <- train).
"""
