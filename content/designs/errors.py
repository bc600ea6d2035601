"""Errors and problems in a design are values with a path, never strings parsed back."""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DesignError:
    """The design's shape is wrong (an unknown block, a wrong type): it cannot be saved."""

    path: str  # "blocks[2].columns[1].blocks[0].src"
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class DesignProblem:
    """The design is saved but not ready to send (missing alt text) or worth a second look."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"


class InvalidDesign(ValueError):
    def __init__(self, errors: list[DesignError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))
