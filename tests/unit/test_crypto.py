"""Envelopes, key wrapping, key files, blind indexes and the profile protector (ST-3, DP-1):
each guarantee stated as what an attacker or a mistake would try, and what happens."""

from __future__ import annotations

import base64
import json
import secrets
import stat
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.crypto import (
    ERASED,
    BlindIndex,
    KeyMaterialError,
    create_key_file,
    is_envelope,
    key_id_of,
    normalise_for_index,
    open_envelope,
    read_key_file,
    seal,
    unwrap,
    wrap,
)
from ledger.domain.errors import WorkflowViolationError
from ledger.domain.paths import apply_changes
from ledger.domain.profile import validate_changes, validate_profile
from ledger.policy import load_policy
from ledger.protection import ProfileProtector
from tests.factories import make_profile
from tests.fakes import InMemoryKeys

POLICY = load_policy()
KEY = secrets.token_bytes(32)
VALUE = {"name": "司马青莲", "phone": "+8613900139000"}


def fullwidth(text: str) -> str:
    """The text as a Chinese input method may type it: full-width digits and signs."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def sealed(value: Any = VALUE, *, customer: str = "c1", path: str = "contacts") -> dict[str, Any]:
    return seal(value, key=KEY, key_id="k1", customer_id=customer, path=path)


# Envelopes ---------------------------------------------------------------------------

def test_an_envelope_opens_to_the_value_and_shows_none_of_it() -> None:
    envelope = sealed()
    assert is_envelope(envelope) and envelope["kid"] == "k1"
    assert "司马青莲" not in json.dumps(envelope, ensure_ascii=False)
    assert open_envelope(envelope, key=KEY, customer_id="c1", path="contacts") == VALUE


def test_the_same_value_sealed_twice_gives_different_ciphertexts() -> None:
    assert sealed()["ct"] != sealed()["ct"]


@pytest.mark.parametrize(("customer", "path"), [("c2", "contacts"), ("c1", "basic.phone")])
def test_an_envelope_moved_to_another_customer_or_field_does_not_open(customer: str,
                                                                      path: str) -> None:
    with pytest.raises(KeyMaterialError, match="does not decrypt"):
        open_envelope(sealed(), key=KEY, customer_id=customer, path=path)


def test_a_tampered_or_wrongly_keyed_envelope_does_not_open() -> None:
    raw = bytearray(base64.b64decode(sealed()["ct"]))
    raw[-1] ^= 1
    tampered = sealed() | {"ct": base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(KeyMaterialError):
        open_envelope(tampered, key=KEY, customer_id="c1", path="contacts")
    with pytest.raises(KeyMaterialError):
        open_envelope(sealed(), key=secrets.token_bytes(32), customer_id="c1", path="contacts")


# Wrapping and key files ----------------------------------------------------------------

def test_a_data_key_unwraps_only_under_the_kek_that_wrapped_it() -> None:
    kek, data_key = secrets.token_bytes(32), secrets.token_bytes(32)
    wrapped = wrap(kek, data_key)
    assert data_key not in wrapped and unwrap(kek, wrapped) == data_key
    with pytest.raises(KeyMaterialError, match="does not unwrap"):
        unwrap(secrets.token_bytes(32), wrapped)


def test_a_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.key"
    key = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path, "KEK") == key
    with pytest.raises(FileExistsError):
        create_key_file(path)
    assert read_key_file(path, "KEK") == key


@pytest.mark.parametrize(("text", "problem"), [
    (None, "does not exist"), ("%%% not base64 %%%", "not valid base64"),
    (base64.b64encode(b"too short").decode(), "must be 32 bytes")])
def test_a_missing_or_malformed_key_file_is_a_clear_error(tmp_path: Path, text: str | None,
                                                          problem: str) -> None:
    path = tmp_path / "kek.key"
    if text is not None:
        path.write_text(text, encoding="ascii")
        path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match=problem):
        read_key_file(path, "KEK")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_a_key_file_other_users_may_read_or_change_is_refused_saying_how_to_fix_it(
        tmp_path: Path, mode: int) -> None:
    """As ssh refuses a private key others can read: the key is as good as disclosed, or
    (writable) replaceable, and the refusal says the one command that fixes it."""
    path = tmp_path / "kek.key"
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyMaterialError, match=f"LEDGER_KEK_FILE: the KEK file {path} is open "
                       f"to other users \\(mode 0{mode:o}\\).*chmod 600 {path}"):
        read_key_file(path, "KEK", "LEDGER_KEK_FILE")
    path.chmod(0o600)
    assert len(read_key_file(path, "KEK", "LEDGER_KEK_FILE")) == 32


def test_a_key_id_names_a_key_without_revealing_it() -> None:
    assert key_id_of(KEY, "kek") == key_id_of(KEY, "kek") != key_id_of(KEY, "data")
    assert key_id_of(KEY, "kek") != key_id_of(secrets.token_bytes(32), "kek")
    assert KEY.hex()[:16] not in key_id_of(KEY, "kek")


# Blind indexes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "stored", "typed"), [
    ("phone", "+8613800138000", "+86 138-0013-8000"),
    ("phone", "+8613800138000", fullwidth("+86 138 0013 8000")),
    ("email", "cuihua.ouyang@jade-weaving.cn", "Cuihua.Ouyang@JADE-WEAVING.CN"),
    ("person", "Zebediah Quillfeather", "zebediah  QUILLFEATHER"),
])
def test_values_typed_differently_get_the_same_digest(kind: str, stored: str, typed: str
                                                      ) -> None:
    index = BlindIndex(KEY)
    assert index.digest(kind, stored) == index.digest(kind, typed)


def test_digests_depend_on_the_key_and_the_kind_and_show_no_value() -> None:
    index = BlindIndex(KEY)
    digest = index.digest("phone", "+8613800138000")
    assert digest != BlindIndex(secrets.token_bytes(32)).digest("phone", "+8613800138000")
    assert digest != index.digest("email", "+8613800138000")
    assert digest != index.digest("phone", "+8613800138001")
    assert "13800138000" not in digest


# The profile protector --------------------------------------------------------------------

@pytest.fixture
def protector() -> ProfileProtector:
    """The protector on in-memory data keys (the key store's own database is tested in
    tests/integration/test_key_store.py)."""
    return ProfileProtector(InMemoryKeys(), BlindIndex(secrets.token_bytes(32)),
                            POLICY.personal_fields)


def a_profile() -> dict[str, Any]:
    return validate_profile(make_profile("zh_CN", seed=4), POLICY.mandatory_fields)


def test_only_the_policys_personal_fields_are_sealed(protector: ProfileProtector) -> None:
    profile = a_profile()
    stored = protector.seal_profile("c1", profile)
    assert is_envelope(stored["basic"]["phone"]) and is_envelope(stored["contacts"])
    assert is_envelope(stored["credit"]) and is_envelope(stored["other"]["special_requirements"])
    assert stored["basic"]["name"] == profile["basic"]["name"]
    assert stored["needs"] == profile["needs"]
    text = json.dumps(stored, ensure_ascii=False)
    assert profile["basic"]["phone"] not in text and profile["contacts"][0]["name"] not in text
    assert protector.open_profile("c1", stored) == profile


def test_once_the_key_is_destroyed_every_personal_field_reads_erased(
        protector: ProfileProtector) -> None:
    profile = a_profile()
    stored = protector.seal_profile("c1", profile)
    protector.keys.destroy("c1")
    opened = protector.open_profile("c1", stored)
    assert (opened["basic"]["phone"], opened["contacts"], opened["credit"]) == (
        ERASED, ERASED, ERASED)
    assert opened["basic"]["name"] == profile["basic"]["name"]
    with pytest.raises(WorkflowViolationError):
        protector.seal_changes("c1", {"basic.phone": "+8613800138000"}, profile)


@pytest.mark.parametrize("changes", [
    {"credit.rating": "A"},
    {"credit.credit_limit": {"amount": "500000", "currency": "CNY"}},
    {"credit": {"rating": "C"}, "basic.phone": "+8613500000000"},
    {"other.special_requirements": "只在周三收货"},
])
def test_a_sealed_change_reads_back_as_the_change_made(protector: ProfileProtector,
                                                       changes: dict[str, Any]) -> None:
    """Also for one field of a group the policy seals whole (``credit.rating``)."""
    profile = a_profile()
    plain = validate_changes(profile, changes, POLICY.mandatory_fields)
    stored = apply_changes(protector.seal_profile("c1", profile),
                           protector.seal_changes("c1", plain, profile))
    assert protector.open_profile("c1", stored) == apply_changes(profile, plain)


@given(st.text(max_size=40))
def test_the_index_form_keeps_exactly_letters_digits_and_at_plus_dot(value: str) -> None:
    folded = unicodedata.normalize("NFKC", value).casefold()
    assert normalise_for_index(value) == "".join(
        ch for ch in folded if ch.isalnum() or ch in "@+.")


def test_the_index_form_drops_underscores_and_the_punctuation_people_type() -> None:
    assert normalise_for_index(" +86 (138) 0013-8000 ") == "+8613800138000"
    assert normalise_for_index("Li_Na@Example.COM") == "lina@example.com"
    assert normalise_for_index("王 芳") == "王芳"
