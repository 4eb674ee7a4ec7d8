# The two commands of the README. Both set up a fresh machine first (idempotent, see setup).
VENV := .venv
STAMP := $(VENV)/.specwise-setup
LINTED := $(wildcard src tests benchmarks scripts)
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint format

setup: $(STAMP)

# Re-run the set-up when the dependencies change or the cached model is gone.
$(STAMP): pyproject.toml scripts/setup.sh scripts/alias_vllm_dist.py
	bash scripts/setup.sh
	touch $@

demo: setup
	$(VENV)/bin/specwise models prepare smollm2 >/dev/null
	$(VENV)/bin/specwise run studies/quick.yaml --out runs/quick

test: setup lint
	$(VENV)/bin/specwise models prepare smollm2 >/dev/null
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

format: setup
	$(VENV)/bin/ruff format $(LINTED)
	$(VENV)/bin/ruff check --fix $(LINTED)
