import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no model hub here, ever
# tests/bench/fake_openai.py serves tests outside tests/bench too (pytest's importlib mode)
sys.path.insert(0, str(Path(__file__).parent / "bench"))
