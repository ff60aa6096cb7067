"""crypto.casekey: the 28-character case key, its checksum and its forgiving parser."""

import hashlib
import random
import re

import pytest
from hypothesis import given, settings, strategies as st

from crypto import casekey
from crypto.errors import ProtocolError
from ql_helpers import raises_code

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$")
keys16 = st.binary(min_size=16, max_size=16)


def reference_encode(key: bytes) -> str:
    """PROTOCOL.md's definition, written independently of crypto.casekey."""
    check = hashlib.blake2b(key, digest_size=32, key=b"quietline/case-key-check/v1").digest()
    check12 = int.from_bytes(check[:2], "big") >> 4
    number = (int.from_bytes(key, "big") << 12) | check12
    digits = "".join(ALPHABET[(number >> (5 * (27 - i))) & 31] for i in range(28))
    return "-".join(digits[i : i + 4] for i in range(0, 28, 4))


def canonical(key: bytes) -> str:
    return casekey.encode(key).replace("-", "")


# --- encoding --------------------------------------------------------------------------


def test_constants_match_protocol():
    assert casekey.ALPHABET == ALPHABET
    assert casekey.KEY_BYTES == 16 and casekey.CHECK_BITS == 12 and casekey.LENGTH == 28
    assert casekey.CHECK_LABEL == b"quietline/case-key-check/v1"


def test_protocol_example_parses():
    key = casekey.parse("0RFE-H1JK-9155-QPXR-Q2F5-HGBV-NBV2")
    assert len(key) == 16
    assert casekey.encode(key) == "0RFE-H1JK-9155-QPXR-Q2F5-HGBV-NBV2"


def test_generate_is_16_random_bytes():
    keys = {casekey.generate() for _ in range(64)}
    assert len(keys) == 64
    assert all(isinstance(k, bytes) and len(k) == 16 for k in keys)


@pytest.mark.parametrize("key", [bytes(16), b"\xff" * 16, bytes(range(16)), b"\x80" + bytes(15), bytes(15) + b"\x01"])
def test_encode_edge_keys(key):
    text = casekey.encode(key)
    assert FORMAT.match(text)
    assert text == reference_encode(key)
    assert casekey.parse(text) == key


@settings(max_examples=300, deadline=None)
@given(keys16)
def test_encode_parse_round_trip(key):
    text = casekey.encode(key)
    assert len(text) == 34 and FORMAT.match(text)
    assert text == reference_encode(key)
    assert casekey.parse(text) == key
    assert casekey.parse(text.replace("-", "")) == key
    assert casekey.normalize(text) == text.replace("-", "")


@pytest.mark.parametrize("length", [0, 1, 15, 17, 32])
def test_encode_refuses_wrong_length(length):
    with raises_code("bad_length"):
        casekey.encode(bytes(length))


def test_first_digit_uses_all_of_the_alphabet():
    # 140 bits fill 28 digits exactly: the top digit carries the key's top 5 bits.
    assert canonical(b"\xff" * 16)[0] == "Z"
    assert canonical(b"\x08" + bytes(15))[0] == "1"
    assert canonical(bytes(16))[:25] == "0" * 25


# --- forgiving input ---------------------------------------------------------------------

FULLWIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in ALPHABET + "-"}
ARABIC_INDIC = {str(i): chr(0x0660 + i) for i in range(10)}
EXT_ARABIC_INDIC = {str(i): chr(0x06F0 + i) for i in range(10)}
CYRILLIC_UPPER = dict(zip("ABEKMHPCTX", "АВЕКМНРСТХ"))
CYRILLIC_LOWER = {k: v.lower() for k, v in CYRILLIC_UPPER.items()}
SEPARATORS = [" ", "\t", "\r", "\n", "-", "_", ".", "\u00a0", "\u2010", "\u2011", "\u2012", "\u2013",
              "\u2014", "\u2015", "\u2212", "\u3000", "\u30fb"]


@pytest.fixture(scope="module")
def sample_key():
    # A key whose text contains digits, letters with Cyrillic look-alikes, 0 and 1.
    rng = random.Random(1)
    while True:
        key = rng.randbytes(16)
        text = canonical(key)
        if "0" in text and "1" in text and any(c in CYRILLIC_UPPER for c in text) and any(c.isdigit() for c in text):
            return key


def test_lower_case(sample_key):
    assert casekey.parse(casekey.encode(sample_key).lower()) == sample_key


@pytest.mark.parametrize("sep", SEPARATORS)
def test_every_separator_is_dropped(sample_key, sep):
    text = canonical(sample_key)
    spaced = sep.join(text[i : i + 4] for i in range(0, 28, 4))
    assert casekey.parse(spaced) == sample_key
    assert casekey.parse(sep + sep.join(text) + sep) == sample_key


def test_no_separators_and_odd_grouping(sample_key):
    text = canonical(sample_key)
    assert casekey.parse(text) == sample_key
    assert casekey.parse(f"  {text[:3]} {text[3:17]}--{text[17:]}\n") == sample_key


def test_full_width_forms(sample_key):
    text = casekey.encode(sample_key)
    wide = "".join(FULLWIDTH[c] for c in text)
    assert wide != text
    assert casekey.parse(wide) == sample_key
    assert casekey.parse(wide.lower()) == sample_key  # full-width lower case letters too
    assert casekey.parse("\u3000".join(text.split("-"))) == sample_key  # ideographic space


@pytest.mark.parametrize("digits", [ARABIC_INDIC, EXT_ARABIC_INDIC])
def test_arabic_indic_digits(sample_key, digits):
    text = casekey.encode(sample_key)
    converted = "".join(digits.get(c, c) for c in text)
    assert converted != text
    assert casekey.parse(converted) == sample_key


@pytest.mark.parametrize("table", [CYRILLIC_UPPER, CYRILLIC_LOWER])
def test_cyrillic_look_alikes(sample_key, table):
    text = casekey.encode(sample_key)
    converted = "".join(table.get(c, c) for c in text)
    assert converted != text
    assert casekey.parse(converted) == sample_key


@pytest.mark.parametrize("zero", ["O", "o", "О", "о", "Ｏ"])  # Latin, Cyrillic, full-width
def test_letter_o_means_zero(sample_key, zero):
    text = casekey.encode(sample_key)
    assert casekey.parse(text.replace("0", zero)) == sample_key


@pytest.mark.parametrize("one", ["I", "i", "L", "l", "ı"])  # ı (dotless i) upper-cases to I
def test_letters_i_and_l_mean_one(sample_key, one):
    text = casekey.encode(sample_key)
    assert casekey.parse(text.replace("1", one)) == sample_key


def test_every_cyrillic_mapping():
    assert casekey.normalize("АВЕКМНОРСТХ" + "авекмнорстх" + "0" * 6) == "ABEKMH0PCTX" * 2 + "0" * 6


def _variants(c: str) -> list[str]:
    out = [c, c.lower(), FULLWIDTH[c]]
    out += [v[c] for v in (ARABIC_INDIC, EXT_ARABIC_INDIC, CYRILLIC_UPPER, CYRILLIC_LOWER) if c in v]
    if c == "0":
        out += ["O", "o", "О", "о"]
    if c == "1":
        out += ["I", "i", "L", "l"]
    return out


@settings(max_examples=80, deadline=None)
@given(keys16, st.data())
def test_any_mix_of_forgiven_forms(key, data):
    text = canonical(key)
    typed = []
    for c in text:
        typed.append(data.draw(st.lists(st.sampled_from(SEPARATORS), max_size=2), label="sep"))
        typed.append([data.draw(st.sampled_from(_variants(c)), label=c)])
    assert casekey.parse("".join(ch for part in typed for ch in part)) == key


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["U", "u", "!", "+", "/", "=", "Ω", "Α", "१", "😀", "\u200b", "\x00", "ß"])
def test_invalid_character(sample_key, bad):
    # Not in the alphabet and no forgiven form of it (Greek Alpha, Devanagari digit, emoji,
    # zero-width space, NUL, ß which upper-cases to two letters).
    text = canonical(sample_key)
    with raises_code("case_key_invalid_character"):
        casekey.parse(text[:13] + bad + text[14:])
    with raises_code("case_key_invalid_character"):  # refused even when the length is also wrong
        casekey.parse(bad)


@pytest.mark.parametrize("value", [None, b"0RFEH1JK9155QPXRQ2F5HGBVNBV2", 12345, ["0"] * 28])
def test_non_text_is_refused(value):
    with raises_code("case_key_invalid_character"):
        casekey.parse(value)


@pytest.mark.parametrize("length", [0, 1, 27, 29, 32, 56])
def test_wrong_length(sample_key, length):
    text = (canonical(sample_key) * 2)[:length]
    with raises_code("case_key_wrong_length"):
        casekey.parse(text)


@pytest.mark.parametrize("text", ["", "    ", "----", " - _ . \t\n"])
def test_only_separators_is_wrong_length(text):
    with raises_code("case_key_wrong_length"):
        casekey.parse(text)


def test_every_deletion_and_insertion_is_wrong_length(sample_key):
    text = canonical(sample_key)
    for i in range(28):
        with raises_code("case_key_wrong_length"):
            casekey.parse(text[:i] + text[i + 1 :])
        with raises_code("case_key_wrong_length"):
            casekey.parse(text[:i] + "7" + text[i:])


def test_bad_checksum_code(sample_key):
    text = canonical(sample_key)
    last = ALPHABET[(ALPHABET.index(text[-1]) + 1) % 32]
    with raises_code("case_key_bad_checksum"):
        casekey.parse(text[:-1] + last)


def _parse_outcome(text: str, key: bytes) -> str:
    try:
        parsed = casekey.parse(text)
    except ProtocolError as exc:
        return exc.code
    assert parsed != key  # a changed text that still parses can only be a different key
    return "accepted"


def test_single_substitutions_are_detected():
    """Every one of the 31 wrong alphabet characters at every position, over many random
    keys: the 12-bit checksum lets about 1 in 4096 through, nothing else is ever raised."""
    rng = random.Random(20261123)
    accepted = total = 0
    for _ in range(150):
        key = rng.randbytes(16)
        text = canonical(key)
        for i, original in enumerate(text):
            for c in ALPHABET:
                if c == original:
                    continue
                outcome = _parse_outcome(text[:i] + c + text[i + 1 :], key)
                total += 1
                if outcome == "accepted":
                    accepted += 1
                    # The last two digits hold only checksum bits: a typo there is always caught.
                    assert i < 26
                else:
                    assert outcome == "case_key_bad_checksum"
    assert total == 150 * 28 * 31
    assert accepted / total < 0.001, f"{accepted} of {total} single substitutions went undetected"


def test_substitution_by_non_alphabet_character_is_invalid():
    rng = random.Random(7)
    key = rng.randbytes(16)
    text = canonical(key)
    for i in range(28):
        for c in "UuÜ#@*":
            with raises_code("case_key_invalid_character"):
                casekey.parse(text[:i] + c + text[i + 1 :])


def test_adjacent_transpositions_are_detected():
    rng = random.Random(99)
    accepted = total = 0
    for _ in range(300):
        key = rng.randbytes(16)
        text = canonical(key)
        for i in range(27):
            if text[i] == text[i + 1]:
                continue
            swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
            outcome = _parse_outcome(swapped, key)
            total += 1
            accepted += outcome == "accepted"
            assert outcome in ("accepted", "case_key_bad_checksum")
    assert accepted / total < 0.001


# --- arbitrary input ---------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_only_raises_protocol_error(text):
    try:
        key = casekey.parse(text)
    except ProtocolError as exc:
        assert exc.code in ("case_key_invalid_character", "case_key_wrong_length", "case_key_bad_checksum")
    else:
        assert len(key) == 16
        assert casekey.parse(casekey.encode(key)) == key


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET + "oOiIlL-", min_size=28, max_size=34))
def test_alphabet_text_is_refused_only_for_length_or_checksum(text):
    try:
        key = casekey.parse(text)
    except ProtocolError as exc:
        assert exc.code in ("case_key_wrong_length", "case_key_bad_checksum")
    else:
        assert casekey.normalize(casekey.encode(key)) == casekey.normalize(text)
