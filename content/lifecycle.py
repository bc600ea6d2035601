"""The one writer of a message's status: Draft -> Ready to send, and back to Draft to edit."""

from .checks import Problem, check_content, errors
from .models import Content, ContentStatus
from .usage import live_usages


class ContentNotReady(Exception):
    """Check content found errors; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class ContentInUse(Exception):
    """Ready content cannot go back to Draft while a live journey sends it."""

    def __init__(self, usages: list[str]) -> None:
        self.usages = usages
        super().__init__("Used by " + "; ".join(usages))


def mark_ready(content: Content) -> list[Problem]:
    """Check the message and make it Ready to send; returns the warnings.

    Raises ContentNotReady with every error when the check fails (nothing changes then).
    """
    problems = check_content(content)
    if errors(problems):
        raise ContentNotReady(errors(problems))
    Content.objects.filter(pk=content.pk).update(status=ContentStatus.READY)
    content.status = ContentStatus.READY
    return problems


def reopen_for_editing(content: Content) -> None:
    """Move Ready content back to Draft so it can be edited; refused while a live journey uses it."""
    usages = live_usages(content)
    if usages:
        raise ContentInUse(usages)
    Content.objects.filter(pk=content.pk).update(status=ContentStatus.DRAFT)
    content.status = ContentStatus.DRAFT
