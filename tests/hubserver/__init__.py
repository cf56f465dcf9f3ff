"""A local Hugging Face Hub-protocol server for tests (see `server.py`) and its pytest plugin (`fixtures.py`)."""
