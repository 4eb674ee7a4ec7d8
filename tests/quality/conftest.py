"""Make the helpers beside these tests importable (pytest uses --import-mode=importlib)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
