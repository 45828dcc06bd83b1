"""The one error type synth-time validation raises, carrying every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List


@dataclass(frozen=True)
class Violation:
    """One problem with one prop.

    Args:
        field: the prop, dotted for nested ones (e.g. autoscaling.min_instances).
        value: what was given.
        problem: what is wrong, with the limit.
        fix: one way to fix it.
    """

    field: str
    value: object
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}={self.value}: {self.problem}; fix: {self.fix}"


class SpecError(ValueError):
    """Raised with every violation listed, one per line, so a user fixes them in one pass."""

    def __init__(self, violations: Iterable[Violation], subject: str = "endpoint spec"):
        self.violations: List[Violation] = list(violations)
        lines = "\n".join(f"  - {violation}" for violation in self.violations)
        count = len(self.violations)
        super().__init__(
            f"invalid {subject} ({count} problem{'s' if count != 1 else ''}):\n{lines}"
        )

    @property
    def fields(self) -> List[str]:
        return [violation.field for violation in self.violations]
