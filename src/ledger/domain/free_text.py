"""Free text as personal data: where text typed about a customer is sealed, and the rule
for text that is stored in plaintext.

A reason, a deletion request's details or a rejection's reason that concerns a customer
may name a person, a phone number, a grievance: it is sealed under that customer's key
like a personal field (each envelope bound to one of the paths below), so an erasure takes
it too. Text that concerns no customer (the reason given for an account's lock, grant or
reset, a legal hold's reference) is stored as typed, and so must not carry contact
details: text in which a phone number or an e-mail address is found is refused, naming
the field and never the text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ledger.domain.messages import N_

COMMAND_REASON_PATH = "meta.reason"
"""A command's reason, in the metadata of each event of a command about a customer."""
CHANGE_REJECTION_PATH = "change.rejection_reason"
DELETION_DETAILS_PATH = "deletion.details"
DELETION_REJECTION_PATH = "deletion.rejection_reason"

CONTACT_DATA_MESSAGE = N_("must not contain a phone number or an e-mail address: this text "
                           "is stored in plaintext")
# Phone numbers are looked for as written in China first, and in international form.
_PHONE_REGIONS = ("CN", None)
# Punctuation an address itself may hold; any other (Chinese punctuation included) ends it.
_IN_ADDRESS = frozenset(".@-_+%'")


def looks_like_contact_data(text: str) -> bool:
    """Whether ``text`` holds something phonenumbers' matcher takes for a valid phone
    number, or a word email-validator accepts as an address."""
    for region in _PHONE_REGIONS:
        if phonenumbers.PhoneNumberMatcher(text, region or "ZZ").has_next():
            return True
    for word in _words(text):
        candidate = word.strip(".")
        if "@" not in candidate:
            continue
        try:
            validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        return True
    return False


def _words(text: str) -> Iterator[str]:
    """``text`` cut at spaces and at punctuation no e-mail address holds."""
    kept = "".join(char if char in _IN_ADDRESS or unicodedata.category(char)[0] not in "PZC"
                   else " " for char in text)
    yield from kept.split()
