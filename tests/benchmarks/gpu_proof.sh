#!/usr/bin/env bash
# On the GPU machine (no network): install the bundle's wheels and this checkout into a private
# site folder, then run one part of tests/benchmarks/gpu_proof.py. Results land in $OUT (the device
# tool's output folder) or output/gpu-proof: proof-<part>.json and work-<part>.tgz (logs, trainer
# states, evaluation results; no weights).
#
#   bash tests/benchmarks/gpu_proof.sh train    # run 1: LoRA modes, evaluation
#   bash tests/benchmarks/gpu_proof.sh full     # run 2: all-parameter FSDP / DeepSpeed, memory fit
#   bash tests/benchmarks/gpu_proof.sh speed    # the LoRA recipe as it was vs each speed lever vs all (<= 8 min)
set -euo pipefail
part=${1:?usage: gpu_proof.sh train|full|sweep|profile|speed [gpu_proof.py options]}
shift
bundle=${BUNDLE:-.gpu-bundle}
out=${OUT:-output/gpu-proof}
site=${SITE:-/tmp/instructerc-site}
work=${WORK:-/tmp/instructerc-gpu-proof}
[ -f "$bundle/manifest.json" ] || { echo "error: no bundle at $bundle (run make gpu-bundle and carry it)" >&2; exit 2; }
mkdir -p "$out"
start=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check --target "$site" "$bundle"/wheels/*.whl
# This checkout as the installed package: the same layout pip's install makes (pyproject.toml's package-dir),
# linked, so what runs is the working tree and no build backend is needed there.
mkdir -p "$site/instructerc"
ln -sf "$PWD"/instructerc/*.py "$site/instructerc/"
for sub in builders train eval hub; do ln -sfn "$PWD/$sub" "$site/instructerc/$sub"; done
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
echo "installed in $(( $(date +%s) - start )) s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m pip list 2>/dev/null | grep -i -E "^(torch|numpy|pandas|pyarrow|typing.extensions|setuptools) " || true
rc=0
python3 tests/benchmarks/gpu_proof.py --part "$part" --bundle "$bundle" --out "$out" --work "$work" "$@" || rc=$?
tar czf "$out/work-$part.tgz" -C "$work" --exclude=model --exclude='checkpoint-*' --exclude='*.safetensors' \
    --exclude='*.bin' . 2>/dev/null || true
echo "part $part: rc $rc in $(( $(date +%s) - start )) s"
exit $rc
