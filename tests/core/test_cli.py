"""The command line's root: help, version, and clear errors instead of tracebacks."""

from __future__ import annotations

from typer.testing import CliRunner

from veedel import __version__
from veedel.cli.main import app

runner = CliRunner()


def test_help_lists_commands_with_an_example() -> None:
    """`veedel --help` names the main job and shows an example."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output and "Example" in result.output


def test_version() -> None:
    """`veedel --version` prints the package version."""
    result = runner.invoke(app, ["--version"])
    assert result.output.strip() == f"veedel {__version__}"


def test_input_error_is_a_message_and_exit_code_2() -> None:
    """A rule broken by the user's input ends with a sentence, not a traceback."""
    result = runner.invoke(
        app, ["users", "add", "bad name!", "--password", "long enough"]
    )
    assert result.exit_code == 2
    assert "username must be 1 to 64 letters" in result.output
    assert "Traceback" not in result.output


def test_users_add_and_list() -> None:
    """An account added on the command line is listed with its role."""
    added = runner.invoke(
        app, ["users", "add", "maria", "--role", "editor", "--password", "pass-word"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["users", "list"])
    assert "maria" in listed.output and "editor" in listed.output
