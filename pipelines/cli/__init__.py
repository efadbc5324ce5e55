"""The `mlcost` command line (`main.py`: parser and commands) and the docs it generates."""

from pipelines.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
