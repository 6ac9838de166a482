"""Exceptions shared by every stage. CLI stages turn a ``Seq2ExpError`` into one clear line and exit code 2."""
from __future__ import annotations


class Seq2ExpError(Exception):
    """Base class of the errors seq2exp reports to users (bad input, bad config, ...)."""


class InputFormatError(Seq2ExpError, ValueError):
    """A data file is malformed. The message names the file, the 1-based line and the field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = path, line, field
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            if field is not None:
                where += f", field {field!r}"
            where += ": "
        super().__init__(where + message)


class ConfigError(Seq2ExpError, ValueError):
    """A config is invalid. The message names the field and, where it applies, the valid choices."""
