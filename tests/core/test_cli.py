"""The command line's root: help, version, and clear errors instead of tracebacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
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
    assert "username must be 1 to 64 ASCII letters" in result.output
    assert "Traceback" not in result.output


def test_users_add_and_list() -> None:
    """An account added on the command line is listed with its role."""
    added = runner.invoke(
        app, ["users", "add", "maria", "--role", "editor", "--password", "pass-word"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["users", "list"])
    assert "maria" in listed.output and "editor" in listed.output


def test_users_commands_say_each_change_once() -> None:
    """add, disable and enable print one line each: no INFO log line repeats it."""
    added = runner.invoke(app, ["users", "add", "ana", "--password", "pass-word"])
    disabled = runner.invoke(app, ["users", "disable", "ana"])
    enabled = runner.invoke(app, ["users", "enable", "ana"])

    assert added.output.splitlines() == ["Added ana with role viewer."]
    assert disabled.output.splitlines() == ["Disabled ana."]
    assert enabled.output.splitlines() == ["Enabled ana."]


def test_verbose_shows_debug_lines_and_log_level_hides_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-v` shows a library's DEBUG record; VEEDEL_LOG_LEVEL=WARNING hides INFO."""
    csv = tmp_path / "berlin.csv"
    csv.write_text(
        "id,title,created_utc,score,selftext\nx1,Hallo,1355441176.0,5,body\n",
        encoding="utf-8",
    )
    warehouse = f"duckdb://{tmp_path / 'w.duckdb'}"
    command = ["ingest", "reddit", str(csv), "--warehouse", warehouse]

    quiet = runner.invoke(app, command)
    verbose = runner.invoke(app, ["-v", *command])
    monkeypatch.setenv("VEEDEL_LOG_LEVEL", "warning")
    warnings_only = runner.invoke(app, command)

    assert quiet.exit_code == verbose.exit_code == warnings_only.exit_code == 0
    assert "Opening DuckDB warehouse" in quiet.output
    assert "DEBUG" not in quiet.output and "Reading" not in quiet.output
    assert "DEBUG" in verbose.output and "Reading" in verbose.output
    assert "Opening DuckDB warehouse" not in warnings_only.output


def test_demo_without_serving_says_how_to_sign_in(tmp_path: Path) -> None:
    """--no-serve ends with the commands that add an account and serve."""
    from veedel.cli.console import console
    from veedel.cli.demo import _print_next_steps
    from veedel.settings import Settings

    settings = Settings(data_dir=tmp_path, port=8793)
    with console.capture() as captured:
        _print_next_steps(settings, tmp_path)
    lines = captured.get().splitlines()

    assert f"  veedel users add NAME --role admin --data-dir {tmp_path}" in lines
    assert f"  veedel serve --data-dir {tmp_path}" in lines
    assert any("http://127.0.0.1:8793/" in line for line in lines)


def test_demo_help_shows_the_default_data_folder() -> None:
    """The default folder in brackets is not eaten as Rich markup."""
    result = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})

    assert "Folder for the warehouse and the store [veedel-data]." in result.output


def test_error_text_in_brackets_is_printed_as_written(tmp_path: Path) -> None:
    """Brackets in an error (a pattern, a user's value) are not read as markup.

    A value like ``[/oops]`` once crashed the error printer with a MarkupError
    traceback, and the key pattern ``^[a-z][a-z0-9_]*$`` printed as ``^*$``.
    """
    metrics = tmp_path / "veedel-data" / "metrics"
    metrics.mkdir(parents=True)
    broken = metrics / "broken.yaml"
    base = "numerator: {source: events, aggregate: count}\n"
    command = ["experiments", "show", "feed_ranking_v2"]

    broken.write_text('name: X\nkind: "[/oops]"\n' + base, encoding="utf-8")
    closing_tag = runner.invoke(app, command, env={"COLUMNS": "300"})
    broken.write_text("name: X\nkey: ünï\nkind: mean\n" + base, encoding="utf-8")
    pattern = runner.invoke(app, command, env={"COLUMNS": "300"})

    assert closing_tag.exit_code == pattern.exit_code == 2
    assert "got '[/oops]'" in closing_tag.output
    assert "Traceback" not in closing_tag.output
    assert "'^[a-z][a-z0-9_]*$'" in pattern.output


@pytest.mark.parametrize(
    "command", [["--help"], ["experiments", "analyze", "--help"], ["demo", "--help"]]
)
def test_help_shows_no_type_for_flags(command: list[str]) -> None:
    """A flag takes no value: --help, --version, --save/--no-save have no <bool>,
    while an option with a value keeps its type."""
    result = runner.invoke(app, command, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    help_line = next(line for line in result.output.splitlines() if "--help" in line)
    assert help_line.split() == [
        "│",
        "--help",
        "Show",
        "this",
        "message",
        "and",
        "exit.",
        "│",
    ]


def test_colon_delimited_ids_are_not_turned_into_emoji() -> None:
    """A Stack Exchange id like ``se:coffee:post:1`` prints as written.

    Rich replaces ``:coffee:`` with an emoji by default, which changed channel
    ids in report tables and ``root:x:0`` in an error quoting a header.
    """
    from rich.table import Table

    from veedel.cli.console import console, err_console

    table = Table()
    table.add_column("channel_id")
    table.add_row("se:coffee:brewing")
    with console.capture() as captured:
        console.print("se:coffee:post:1 root:x:0:0")
        console.print(table)
    with err_console.capture() as captured_err:
        err_console.print("header has: root:x:0:0")

    assert "se:coffee:post:1 root:x:0:0" in captured.get()
    assert "se:coffee:brewing" in captured.get()
    assert "root:x:0:0" in captured_err.get()


def test_demo_help_shows_the_text_posts_cap_and_an_example() -> None:
    """--text-posts is documented with the default it replaces and an example."""
    result = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert (
        "Enrich at most this many new posts per source in this run (default: "
        "every real post, and 3,000 simulated ones)." in result.output
    )
    assert "Example: veedel demo --users 5000 --text-posts 500 --no-serve" in (
        result.output
    )


def test_demo_refuses_a_negative_text_posts_cap() -> None:
    """A negative cap is a usage error naming the option, before any work."""
    result = runner.invoke(app, ["demo", "--text-posts", "-1"])

    assert result.exit_code == 2
    assert "--text-posts" in result.output and "Traceback" not in result.output


def test_a_command_leaves_the_process_logging_as_it_found_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After a command, even one with JSON output that hides INFO, veedel's
    logger has its old handlers, level and propagation, nothing is disabled,
    and a test's caplog sees veedel's records again."""
    import logging

    logger = logging.getLogger("veedel")
    before = (list(logger.handlers), logger.level, logger.propagate)
    warehouse = f"duckdb://{tmp_path / 'w.duckdb'}"

    # --format json hides INFO; the bad --weights ends the command early.
    plan = ["experiments", "plan", "-m", "x", "-f", "json", "--weights", "a"]
    failed = runner.invoke(app, [*plan, "--warehouse", warehouse])
    runner.invoke(app, ["-v", "users", "list"])

    assert failed.exit_code == 2 and "--weights" in failed.output
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    assert logging.root.manager.disable == logging.NOTSET
    with caplog.at_level(logging.INFO, logger="veedel"):
        logging.getLogger("veedel.test").info("still heard")
    assert [r.getMessage() for r in caplog.records] == ["still heard"]


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def test_every_bracketed_default_in_an_option_help_is_shown() -> None:
    """An option's help such as "Images per model call [images.batch_size]."
    is shown whole: Rich markup must not eat the bracket and leave "call ."."""
    import typer.main

    def squeezed(text: str) -> str:
        return "".join(text.replace("│", " ").split())

    root = typer.main.get_command(app)
    checked = 0
    for path in _commands(root):
        command: Any = root
        for name in path:
            command = command.commands[name]
        helps = [
            param.help.replace("\\[", "[")
            for param in command.params
            if "[" in (getattr(param, "help", None) or "")
        ]
        if not helps:
            continue
        shown = squeezed(runner.invoke(app, [*path, "--help"]).output)
        for text in helps:
            assert squeezed(text) in shown, (path, text)
            checked += 1
    assert checked >= 6


def test_serve_on_a_port_in_use_says_so_before_promising_to_serve() -> None:
    """A port another program holds is a message naming it and exit code 2,
    and "Serving on" is not printed first."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])

    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"--port must be free, but port {port} is in use" in text
    assert "Choose another with --port." in text
    assert "Serving on" not in result.output
