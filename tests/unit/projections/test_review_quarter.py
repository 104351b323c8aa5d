"""Which quarter ``reviews due`` may be asked about (UP-1): written YYYY-Qn, from 1900 on."""

from __future__ import annotations

import pytest

from ledger.domain.errors import ValidationFailedError
from projections.queries import ListReviewsDue
from service.query_routes import build_query


@pytest.mark.parametrize("quarter", ["1900-Q1", "2026-Q4", "9999-Q4"])
def test_a_quarter_from_1900_on_is_asked_as_written(quarter: str) -> None:
    assert build_query(ListReviewsDue, {"quarter": quarter}).quarter == quarter


@pytest.mark.parametrize("quarter", ["0000-Q1", "1899-Q4", "2026-Q5", "2026-Q0", "26-Q1"])
def test_a_year_before_1900_or_a_fifth_quarter_is_a_bad_value(quarter: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        build_query(ListReviewsDue, {"quarter": quarter})
    assert refused.value.fields == ["quarter"]
