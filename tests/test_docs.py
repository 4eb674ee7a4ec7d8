"""The documents a newcomer reads stay true: ARCHITECTURE's layout names every module under
src/ (and nothing that is not there), the README stays a short page, and no text numbers the
rounds of work that produced it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILE = re.compile(r"[\w/]+\.(?:py|css)\b")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


def layout_names() -> set[str]:
    """The files the Layout block of ARCHITECTURE.md names, relative to src/specwise/; a name
    without a folder after a name with one (a continued line) is in that folder."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    names: set[str] = set()
    for line in block.splitlines():
        found = FILE.findall(line)
        folder = found[0].rpartition("/")[0] if found else ""
        for name in found:
            names.add(name if "/" in name or not folder else f"{folder}/{name}")
    return names


def module_names() -> set[str]:
    """Every file under src/specwise/ but the empty (or version-only) __init__.py files."""
    root = REPO / "src" / "specwise"
    return {
        str(p.relative_to(root))
        for p in tracked("src")
        if not (p.name == "__init__.py" and len(p.read_text().splitlines()) < 10)
    }


def test_architecture_layout_matches_the_source_tree():
    named, present = layout_names(), module_names()
    assert not present - named, f"modules missing from ARCHITECTURE's layout: {present - named}"
    assert not named - present, (
        f"ARCHITECTURE's layout names files that do not exist: {named - present}"
    )


def test_readme_is_a_short_page():
    assert len((REPO / "README.md").read_text().splitlines()) <= 170


def test_no_text_numbers_the_rounds_of_work():
    rounds = re.compile(r"(?i)\b(session|round|iteration|pass)\s+#?\d+\b|\bissue\s+#?\d+\b")
    found = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()}"
        for p in tracked("*.md", "*.py", "*.yaml", "*.sh", "Makefile")
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if rounds.search(line) and p.name != "test_docs.py"
    ]
    assert not found, "\n".join(found)
