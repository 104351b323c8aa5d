"""The training methods of ``LedgerClient`` (TR-1..TR-3): record training and assessments,
and the reports, plain types in and out."""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.queries import Query
from projections.training_queries import OverdueAssessments, TrainingPassRates


class TrainingMethods:
    """Training records, assessments and their reports."""

    def _command(self, name: str, **fields: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        raise NotImplementedError

    def record_training(self, username: str, course: str, *, course_version: str,
                        trained_on: date | str, trainer: str, method: str,
                        command_id: str | None = None, reason: str | None = None
                        ) -> dict[str, Any]:
        """Record a training session an employee attended (``method``: classroom, online,
        on_the_job)."""
        return self._command("record-training", username=username, course=course,
                             course_version=course_version, trained_on=str(trained_on),
                             trainer=trainer, method=method, command_id=command_id,
                             reason=reason)

    def record_assessment(self, username: str, course: str, score: int, *,
                          assessed_on: date | str, assessor: str | None = None,
                          command_id: str | None = None, reason: str | None = None
                          ) -> dict[str, Any]:
        """Record an employee's assessment score (0-100); the result says whether it passed
        and until when it qualifies."""
        return self._command("record-assessment", username=username, course=course,
                             score=score, assessed_on=str(assessed_on), assessor=assessor,
                             command_id=command_id, reason=reason)

    def overdue_assessments(self, *, as_of: date | str | None = None,
                            min_position: int | None = None) -> dict[str, Any]:
        """Employees overdue for assessment: new ones past their window, others past the
        period."""
        return self._query(OverdueAssessments, as_of=as_of, min_position=min_position)

    def training_pass_rates(self, *, since: date | str | None = None,
                            min_position: int | None = None) -> dict[str, Any]:
        """Assessments and pass rates per course and per department."""
        return self._query(TrainingPassRates, since=since, min_position=min_position)
