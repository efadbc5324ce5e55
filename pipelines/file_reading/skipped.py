"""Skipped-line accounting: every reader counts the lines it could not use and names the first few, per file.

A reader never drops a line silently: each unusable line (or value) is counted, and the first
``MESSAGES_PER_FILE`` are kept as ``InputError`` messages naming the file, the line (or record, row, datapoint)
and the problem. Both readers' results surface them the same way: ``skipped_lines`` (file → count) and
``skip_reasons`` (file → the kept messages, plus "N more skipped lines").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipelines.errors import InputError

# A file with thousands of bad lines needs only its first few named; the rest are counted.
MESSAGES_PER_FILE = 5


@dataclass
class SkippedLines:
    """Skipped lines of one file: how many, and an ``InputError`` for each of the first few."""

    path: Path | str
    count: int = 0
    errors: list[InputError] = field(default_factory=list)

    def add(
        self,
        problem: str,
        *,
        column: str | None = None,
        line: int | None = None,
        word: str = "line",
        where: str | None = None,
        count: int = 1,
    ) -> None:
        """Count ``count`` skipped lines and keep the message if it is among the first few.

        ``line`` is a line number (``word`` names another unit: ``record``, ``row``); ``where`` names a place
        that is no line (``result 'q1', value 3``, ``Datapoints[2]``).
        """
        self.count += count
        if len(self.errors) < MESSAGES_PER_FILE:
            if word != "line" and line is not None:
                problem, line = f"{word} {line}: {problem}", None
            if where is not None:
                problem = f"{where}: {problem}"
            self.errors.append(InputError(self.path, problem, column=column, line=line))

    @property
    def first(self) -> InputError | None:
        """The first skipped line's error, None when nothing was skipped."""
        return self.errors[0] if self.errors else None

    def messages(self) -> list[str]:
        """The kept messages, plus how many more lines were skipped without one."""
        out = [str(error) for error in self.errors]
        if self.count > len(self.errors):
            out.append(f"{self.path}: {self.count - len(self.errors)} more skipped lines")
        return out
