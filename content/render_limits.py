"""Limits on rendering a message template, so a template cannot exhaust a web or worker
process: `{{ ''|ljust:'200000000' }}` would take 400 MB, five nested loops seconds of CPU.

A render gets a budget (`limited`): loop iterations, characters produced by loops, and a
deadline. The sandbox's `for` tag spends it per iteration; filters that grow text check
their argument first and their result after. Exceeding any limit raises RenderLimitExceeded,
a RenderError: the preview shows it, the check refuses the content, a send fails the delivery.
"""

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

from .errors import RenderError

MAX_OUTPUT_CHARS = 1_000_000  # a message, text and HTML, is far below this
MAX_LOOP_ITERATIONS = 100_000  # all loops of one render, nested ones included
MAX_RENDER_SECONDS = 2.0
# Filters whose argument is a width or a precision that sizes the result before anything
# can be measured: the argument is capped instead.
MAX_FILTER_WIDTH = 1_000
SIZED_BY_ARGUMENT = ("ljust", "rjust", "center", "stringformat", "floatformat")
_NUMBERS = re.compile(r"\d+")


class RenderLimitExceeded(RenderError):
    """The template asked for more than a message may take to render."""


@dataclass
class Budget:
    deadline: float
    iterations: int = MAX_LOOP_ITERATIONS
    chars: int = 4 * MAX_OUTPUT_CHARS  # loop output, counted at each level of nesting

    def iterate(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise RenderLimitExceeded(f"Loops may run at most {MAX_LOOP_ITERATIONS:,} times in one message.")
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(f"Rendering took longer than {MAX_RENDER_SECONDS:g} seconds.")

    def produce(self, count: int) -> None:
        self.chars -= count
        if self.chars < 0:
            raise RenderLimitExceeded(f"A message may be at most {MAX_OUTPUT_CHARS:,} characters.")


_budget: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextmanager
def limited() -> Iterator[Budget]:
    """A fresh budget for one render (nested renders share the outer one)."""
    outer = _budget.get()
    if outer is not None:
        yield outer
        return
    budget = Budget(deadline=time.monotonic() + MAX_RENDER_SECONDS)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def check_output(text: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        raise RenderLimitExceeded(f"A message may be at most {MAX_OUTPUT_CHARS:,} characters.")
    return text


class CountedSequence:
    """A `for` loop's sequence that spends one iteration of the budget per item."""

    def __init__(self, values: Any) -> None:
        self.values = values if hasattr(values, "__len__") else list(values)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[Any]:
        return self._counted(iter(self.values))

    def __reversed__(self) -> Iterator[Any]:
        return self._counted(reversed(self.values))

    def __getitem__(self, index: Any) -> Any:
        return self.values[index]

    @staticmethod
    def _counted(items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            budget = _budget.get()
            if budget is not None:
                budget.iterate()
            yield item


def spend_output(text: str) -> str:
    budget = _budget.get()
    if budget is not None:
        budget.produce(len(text))
    return text


def limit_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with its argument (for the filters sized by it) and its result bounded."""

    @wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if name in SIZED_BY_ARGUMENT and len(args) > 1:
            widths = [int(n) for n in _NUMBERS.findall(str(args[1]))]
            if any(width > MAX_FILTER_WIDTH for width in widths):
                raise RenderLimitExceeded(f"The {name} filter takes a width of at most {MAX_FILTER_WIDTH:,}.")
        result = func(*args, **kwargs)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT_CHARS:
            raise RenderLimitExceeded(f"The {name} filter produced more than {MAX_OUTPUT_CHARS:,} characters.")
        return result

    return bounded
