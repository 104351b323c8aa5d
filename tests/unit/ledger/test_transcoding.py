"""Stored events decoded with orjson give exactly what the library's transcoder gives:
for every value the library encodes, and for bytes edited by hand into anything at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.store import LedgerStore
from ledger.transcoding import FastJSONTranscoder
from tests.factories import make_profile


def with_transcodings(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = with_transcodings(JSONTranscoder())
FAST = with_transcodings(FastJSONTranscoder())


def outcome(transcoder: JSONTranscoder, data: bytes) -> tuple[str, str]:
    """What decoding gives, compared by repr (NaN equals itself there), or the error's type."""
    try:
        decoded = transcoder.decode(data)
    except Exception as error:  # the error's type is what is compared
        return ("error", type(error).__name__)
    return ("value", repr(decoded))


scalars = st.one_of(
    st.none(), st.booleans(), st.text(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.uuids(), st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.just(UTC)),
)
# Keys include the transcoding's own marks, so objects that look transcoded are made too.
keys = st.one_of(st.text(max_size=8), st.sampled_from(["_type_", "_data_", "timestamp"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_whatever_the_library_encodes_decodes_to_the_same(state: dict[str, Any]) -> None:
    try:
        data = LIBRARY.encode(state)
    except (UnicodeEncodeError, TranscodingNotRegisteredError):
        return  # the library cannot store it: nothing to decode
    assert outcome(FAST, data) == outcome(LIBRARY, data)


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.binary(max_size=64),
    st.text(alphabet='{}[]":,0123456789.eE-+_typedaNIfinlru\\ ', max_size=64).map(str.encode),
))
@example(b'{"a":123456789012345678901234567890}')  # beyond 64 bits: never a float
@example(b'{"a":-9223372036854775809}')
@example(b'{"a":NaN,"b":Infinity}')
@example(b'{"a":"\\ud800"}')  # a lone surrogate
@example(b'{"\\u005ftype_":"uuid_hex","_data_":"ffffffffffffffffffffffffffffffff"}')
@example(b'{"t":{"_type_":"no_such_type","_data_":1}}')
@example(b'{"t":{"_type_":"_type_","_data_":1}}')
@example(b'{"_type_":"decimal_str","_data_":"1.5"}')
@example(b'\xff\xfe')
def test_bytes_edited_by_hand_decode_or_fail_as_the_library_s_do(data: bytes) -> None:
    assert outcome(FAST, data) == outcome(LIBRARY, data)


def test_transcoded_values_at_any_depth_are_rebuilt() -> None:
    when = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    state = {"timestamp": when, "meta": {"at": when, "ids": [uuid4(), {"amount": Decimal("1.5")}]}}

    decoded = FAST.decode(LIBRARY.encode(state))

    assert decoded == state
    assert isinstance(decoded["meta"]["ids"][0], UUID)


def test_an_event_s_timestamp_alone_takes_the_short_way() -> None:
    """The common case (one transcoded value, at the top) is rebuilt like the rest."""
    when = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    state = {"timestamp": when, "profile": make_profile(), "n": 10**18}

    decoded = FAST.decode(LIBRARY.encode(state))

    assert decoded == state
    assert type(decoded["timestamp"]) is datetime


@pytest.mark.parametrize("stored", [b'{"n": 1', b'{"n": NaN', b"\x80"])
def test_bytes_no_decoder_reads_fail_with_the_library_s_error(stored: bytes) -> None:
    with pytest.raises(Exception) as fast_error:
        FAST.decode(stored)
    with pytest.raises(Exception) as library_error:
        LIBRARY.decode(stored)
    assert type(fast_error.value) is type(library_error.value)
    assert isinstance(fast_error.value, json.JSONDecodeError | UnicodeDecodeError)


def test_the_store_decodes_with_it() -> None:
    store = LedgerStore({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    transcoder = store.mapper.transcoder

    assert isinstance(transcoder, FastJSONTranscoder)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    assert transcoder.decode(transcoder.encode({"timestamp": when})) == {"timestamp": when}
