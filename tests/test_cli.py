from pathlib import Path

from typer.testing import CliRunner

from specwise.cli import app


def test_errors_print_bracketed_text_verbatim(tmp_path: Path) -> None:
    """Bracketed text in an error (log lines, paths) is shown as is, never read as rich markup."""
    arm = tmp_path / "arm[red].yaml"
    arm.write_text("name: x\nengine: warp\n")
    result = CliRunner().invoke(app, ["serve", str(arm)])
    assert result.exit_code == 2
    assert "arm[red].yaml" in "".join(result.output.split())
