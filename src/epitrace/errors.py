"""The root of every epitrace exception, and the branch the user can fix.

Every exception the project defines derives from ``EpitraceError``, so one
``except EpitraceError`` catches anything epitrace raised on purpose. Classes
that callers already catch by a built-in base keep it beside the root
(``class UnknownSubject(UserInputError, LookupError)``), so ``except
LookupError`` and ``except ValueError`` still work.

``UserInputError`` is the branch for input the user can fix: a person no agency
knows, a cases file that breaks its contract, a hub that cannot listen on its
port. Its message is one line. The command line turns it, in one place
(``epitrace.cli``), into ``Error: <message>`` on stderr and its ``exit_code``:

- 1: the input was read and cannot be worked on (``UserInputError``);
- 2: a usage mistake, the command was asked something it cannot do
  (``UsageMistake``), as for click's own argument errors.

Anything else (a ``ContractError`` listing many problems, a hub fault, a bug)
is not turned into one line: it is for the caller to handle or for a traceback.
"""

from __future__ import annotations


class EpitraceError(Exception):
    """Raised by epitrace on purpose; every project exception derives from it."""


class UserInputError(EpitraceError):
    """Input the user can fix, said in one line; the command line exits 1."""

    exit_code = 1


class UsageMistake(UserInputError):
    """A command asked for something it cannot do (``--to`` before ``--from``,
    ``--out`` a file); the command line exits 2."""

    exit_code = 2
