"""What a reader hands back for one file, and the bookkeeping of the lines it had to skip."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.errors import InputError
from pipelines.file_reading.skipped import MESSAGES_PER_FILE, SkippedLines

SAGEMAKER = "sagemaker"
COUNTS = "counts"
REQUEST_LOG = "request_log"
RATES = "rates"


@dataclass
class FileRows:
    """The usable rows of one file in its family's shape, and what was skipped (counted and named)."""

    family: str
    source: str
    frame: pl.DataFrame
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_error: InputError | None = None
    lines: int | None = None  # lines (rows, records) read, bad ones included; None: usable rows + skipped
    unfinished: int = 0  # request-log lines whose status says the request had not finished
    successful: float | None = None  # successful requests the file's own rows hold (before deduplication)


def drop_bad_rows(
    frame: pl.DataFrame,
    checks: list[tuple[str | pl.Series, pl.Series]],
    bad: SkippedLines,
    *,
    line_column: str | None,
    word: str = "line",
) -> pl.DataFrame:
    """Remove rows where any check reports a problem, counting each removed row once in ``bad``.

    ``checks`` pairs a column name (as the file spells it, or per-row names such as ``Values[3]``) with
    per-row problem texts (NULL = fine); the first problem of a row, in the order of ``checks``, is named.
    """
    if not checks or frame.height == 0:
        return frame
    data: dict[str, pl.Series] = {}
    first_column = pl.lit(None, dtype=pl.Utf8)
    first_problem = pl.lit(None, dtype=pl.Utf8)
    for i in reversed(range(len(checks))):
        label, problems = checks[i]
        data[f"p{i}"] = problems.cast(pl.Utf8)
        if isinstance(label, pl.Series):
            data[f"c{i}"] = label.cast(pl.Utf8)
            label_expr = pl.col(f"c{i}")
        else:
            label_expr = pl.lit(label)
        is_bad = pl.col(f"p{i}").is_not_null()
        first_column = pl.when(is_bad).then(label_expr).otherwise(first_column)
        first_problem = pl.when(is_bad).then(pl.col(f"p{i}")).otherwise(first_problem)
    line = frame[line_column] if line_column is not None else pl.Series([None] * frame.height, dtype=pl.Int64)
    data["__line"] = line
    problem_frame = pl.DataFrame(data).select("__line", column=first_column, problem=first_problem)
    failing = problem_frame.filter(pl.col("problem").is_not_null())
    for row in failing.head(MESSAGES_PER_FILE).iter_rows(named=True):
        bad.add(row["problem"], column=row["column"], line=row["__line"], word=word)
    bad.count += failing.height - min(failing.height, MESSAGES_PER_FILE)
    return frame.filter(problem_frame["problem"].is_null())


def union_of_lists(column: str) -> pl.Expr:
    """In a group-by: the elements of a list column across the group's rows (the caller makes them unique)."""
    return pl.col(column).list.explode(keep_nulls=False, empty_as_null=False)
