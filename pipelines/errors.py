"""The one error type for a user's bad input: it names the file, the column (or line) and the problem."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user's data or configuration.

    The command line prints ``str(error)`` and exits non-zero without a traceback (unless ``--debug``);
    Dagster shows it as the step's failure. Nothing already published is changed when it is raised.
    """

    def __init__(self, path: object, problem: str, *, column: str | None = None, line: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.column = column
        self.line = line
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")
