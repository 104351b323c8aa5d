"""The rule for free text stored in plaintext (issue 16, B): a phone number or an e-mail
address anywhere in it, as phonenumbers' matcher and email-validator find them, is contact
data; case numbers, dates and counts are not."""

from __future__ import annotations

import pytest

from ledger.domain.free_text import looks_like_contact_data


@pytest.mark.parametrize("text", [
    "她的手机 13800138000 丢了",
    "call +86 138 0013 8000 back",
    "landline 010-6552 9988",
    "write to li.na@example.cn please",
    "联系zhang@mingyuan.cn。",
    "(cuihua.ouyang@jade-weaving.cn)",
])
def test_text_with_a_phone_number_or_an_address_looks_like_contact_data(text: str) -> None:
    assert looks_like_contact_data(text)


@pytest.mark.parametrize("text", [
    "phone lost on a business trip",
    "case 2024-117",
    "(2026)沪0115民初4711号",
    "locked after 5 failed logins on 2026-11-27",
    "employee E1001 moved to finance",
    "see ticket @helpdesk",
])
def test_ordinary_reasons_do_not(text: str) -> None:
    assert not looks_like_contact_data(text)
