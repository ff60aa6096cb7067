"""docs/OPERATIONS.md cannot drift from the CLI: every `quietline ...` command it names (in
code blocks and inline code) is a real subcommand whose `--help` exits 0, and every option it
passes belongs to that command or a group above it; every QUIETLINE_* variable it names is a
server setting or one docs/DEVELOPMENT.md documents; and it still covers the operator's
commands."""

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from quietline_cli import main
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "OPERATIONS.md"
# "quietline" as a program name: not inside a path (/opt/quietline/...), a user or role name
# (followed by an upper-case word, an option or punctuation), then its arguments up to a
# shell separator or comment.
COMMAND = re.compile(r"(?<![\w.-])quietline((?:[ \t]+[^\s;|&`'\"()#]+)+)")
OPERATOR_COMMANDS = {
    ("serve",), ("server", "holdings"), ("server", "purge"), ("client", "digests"), ("client", "verify"),
    ("keys", "root"), ("keys", "manifest"), ("keys", "token"), ("ws", "init"), ("sync", "pull"), ("sync", "push"),
}


def code_texts(markdown: str) -> list[str]:
    """Indented code block lines and inline code spans."""
    texts = [line for line in markdown.splitlines() if line.startswith("    ")]
    prose = "\n".join(line for line in markdown.splitlines() if not line.startswith("    "))
    texts += re.findall(r"`([^`]+)`", prose.replace("\n", " "))
    return texts


def commands(markdown: str) -> list[list[str]]:
    found = []
    for text in code_texts(markdown):
        for match in COMMAND.finditer(text):
            args = match.group(1).split()
            if re.fullmatch(r"[a-z][a-z-]*", args[0]):
                found.append(args)
    return found


def resolve(args: list[str]) -> tuple[list[str], list[str]]:
    """The subcommand path the arguments name, and the problems found on the way."""
    path, problems, chain = [], [], [main]
    current: click.Command = main
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if token == "...":
            break  # "quietline ws ...": the group itself
        name = token.split("=", 1)[0]
        if name.startswith("-"):
            options = {opt: param for cmd in chain for param in cmd.params for opt in param.opts}
            if name not in options:
                problems.append(f"{' '.join(path) or 'quietline'}: no option {name}")
            elif isinstance(current, click.Group) and not options[name].is_flag and "=" not in token:
                tokens.pop(0) if tokens else None  # a group option's value
            continue
        if isinstance(current, click.Group):
            sub = current.commands.get(token)
            if sub is None:
                problems.append(f"quietline {' '.join(path + [token])}: no such subcommand")
                break
            path.append(token)
            chain.append(sub)
            current = sub
        # else: an argument or an option's value of the command itself
    if isinstance(current, click.Group) and "..." not in args:
        problems.append(f"quietline {' '.join(path)} names a group, not a command")
    return path, problems


def test_every_command_in_operations_md_exists_and_takes_its_options():
    named = commands(DOC.read_text(encoding="utf-8"))
    assert len(named) >= 20, named  # the extraction works
    problems, paths = [], set()
    for args in named:
        path, found = resolve(args)
        problems += found
        paths.add(tuple(path))
    assert not problems, "docs/OPERATIONS.md names what the CLI does not have:\n" + "\n".join(problems)
    runner = CliRunner()
    for path in sorted(paths):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, f"quietline {' '.join(path)} --help: {result.output}"
    missing = OPERATOR_COMMANDS - paths
    assert not missing, f"docs/OPERATIONS.md no longer explains: {sorted(missing)}"


def test_the_installed_quietline_command_answers_help():
    program = Path(sys.executable).parent / "quietline"
    result = subprocess.run([str(program), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "serve" in result.stdout, result.stderr


def test_every_setting_operations_md_names_exists():
    text = DOC.read_text(encoding="utf-8")
    development = (ROOT / "docs" / "DEVELOPMENT.md").read_text(encoding="utf-8")
    settings = {f"QUIETLINE_{name.upper()}" for name in Settings.model_fields}
    named = set(re.findall(r"QUIETLINE_[A-Z0-9_]+", text))
    assert named, "the extraction works"
    unknown = sorted(n for n in named if n not in settings and f"`{n}`" not in development)
    assert not unknown, f"docs/OPERATIONS.md names settings that do not exist: {unknown}"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["serve", "--workers", "4"], "no option --workers"),
        (["server", "vacuum"], "no such subcommand"),
        (["keys"], "names a group"),
        (["keys", "token", "--desk", "d", "--sync", "x"], "no option --sync"),
    ],
)
def test_the_check_catches_a_wrong_command(args, problem):
    """The check can fail: an unknown option, subcommand, or a bare group is reported."""
    _, problems = resolve(args)
    assert problems and problem in problems[0], problems


def test_the_extraction_skips_paths_users_and_roles():
    sample = "\n".join([
        "    install -d -o quietline -g quietline /var/lib/quietline",
        "    ExecStart=/opt/quietline/.venv/bin/quietline serve --host 127.0.0.1",
        "    CREATE ROLE quietline LOGIN;",
        "Run `quietline server purge` now.",
    ])
    assert commands(sample) == [["serve", "--host", "127.0.0.1"], ["server", "purge"]]
