from django.db import models

from .journeys import Step


class ABTestState(models.TextChoices):
    COLLECTING = "collecting", "Collecting"  # before decide_after, or too few participants
    UNDECIDED = "undecided", "Undecided"  # checked: no variant better at 95 %; checked again
    DECIDED = "decided", "Decided"  # a winner; new participants take its path


class ABTestResult(models.Model):
    """Where an ab_test step's test stands: one row per step, written only by
    journeys.abtest.check_test (a conditional update, so two workers never decide twice).

    `counts` is the snapshot the last check used: [{"variant", "participants", "successes",
    "trials", "rate"}, …] in the variants' order."""

    step = models.OneToOneField(Step, on_delete=models.CASCADE, related_name="ab_test_result")
    state = models.CharField(max_length=10, choices=ABTestState.choices, default=ABTestState.COLLECTING)
    message = models.CharField(max_length=300, blank=True)
    winner = models.CharField(max_length=60, blank=True)
    winner_path = models.PositiveSmallIntegerField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    z = models.FloatField(null=True, blank=True)
    counts = models.JSONField(default=list, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "A/B test result"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="decided") | models.Q(winner_path__isnull=False, decided_at__isnull=False),
                name="ab_test_decided_has_winner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step.key}: {self.state}"
