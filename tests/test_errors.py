"""One root for epitrace's exceptions, and one line for a user's mistake on the command line."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import epitrace
from epitrace.cli import main
from epitrace.errors import EpitraceError, UsageMistake, UserInputError


def project_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in an epitrace module (the hub's need Django set up)."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(epitrace.__path__, "epitrace."):
        if module_info.name.endswith(("migrations", "__main__")) or ".migrations." in (
            module_info.name
        ):
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("epitrace.")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_every_project_exception_derives_from_the_root() -> None:
    exceptions = project_exceptions()
    assert len(exceptions) > 25  # the walk reached the hub, the providers and the workflows
    strays = [
        f"{c.__module__}.{c.__qualname__}" for c in exceptions if not issubclass(c, EpitraceError)
    ]
    assert strays == []


def test_built_in_bases_are_kept_where_callers_catch_them() -> None:
    from epitrace.formats.problems import ContractError
    from epitrace.providers.dataset import UnknownSubject
    from epitrace.providers.queries import QueryRefused

    assert issubclass(UnknownSubject, UserInputError) and issubclass(UnknownSubject, LookupError)
    assert issubclass(QueryRefused, ValueError) and issubclass(ContractError, ValueError)


def test_a_user_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "subscribers.csv").write_text("carrier,subscriber,person_ref\nSKT,010-1,P1\n")
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path)])
    assert result.exit_code == UserInputError.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "only simulated datasets can be evaluated" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_usage_mistake_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        main, ["simulate", "--residents", "300", "--days", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == UsageMistake.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "not empty" in result.stderr


@pytest.mark.parametrize("command", [["store", "build"], ["analyze"]])
def test_a_mistake_in_a_subcommand_of_a_group_is_turned_into_one_line_too(
    command: list[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [*command, str(empty), "--out", str(tmp_path / "out")]
    if command == ["analyze"]:
        args += ["--person", "P1", "--tz", "Mars/Olympus"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
