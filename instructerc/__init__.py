"""instructerc: instruction datasets, LoRA fine-tuning, evaluation and Hub publishing for ERC.

The subpackages live in the repository's top-level folders (``builders/``, ``train/``,
``eval/``, ``hub/``) and are mapped into this namespace by ``pyproject.toml``.
"""

__version__ = "0.1.0"
