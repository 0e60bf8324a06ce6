"""The project's own error types: every problem a user can fix is a ``ScenarioError``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and what was expected."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ScenarioError(Exception):
    """Input that cannot be simulated: holds one ``Problem`` per mistake found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, message: str, line: int | None = None, key: str = "") -> ScenarioError:
        """Build an error holding one problem."""
        return cls([Problem(str(file), line, key, message)])


class ResourceError(Exception):
    """A run that would not fit in this machine's memory (or other resource limit)."""
