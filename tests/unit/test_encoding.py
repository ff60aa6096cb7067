"""crypto.encoding and crypto.errors: canonical base64, deterministic JSON, one error type."""

import base64
import json

import pytest
from hypothesis import given, settings, strategies as st

from crypto.encoding import MAX_SAFE_INT, b64decode, b64encode, is_int, json_bytes, json_load
from crypto.errors import ProtocolError
from ql_helpers import raises_code


def test_protocol_error():
    exc = ProtocolError("bad_thing", "a person-readable message")
    assert isinstance(exc, ValueError)
    assert exc.code == "bad_thing" and exc.message == "a person-readable message"
    assert str(exc) == "bad_thing: a person-readable message"


# --- base64 ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_b64_round_trip(data):
    text = b64encode(data)
    assert text == base64.b64encode(data).decode()  # standard alphabet, with padding
    assert b64decode(text) == data
    assert b64decode(text, length=len(data)) == data


def test_b64_standard_alphabet_and_padding():
    assert b64encode(b"\xfb\xff") == "+/8="
    assert b64encode(b"a") == "YQ=="
    assert b64decode("+/8=") == b"\xfb\xff"


@pytest.mark.parametrize("text", ["-_8=", "YQ", "YQ=", "Y", "YQ===", "QUJD=", "QUJD====", "QR==", "YR==", "+/9=",
                                  " YQ==", "YQ==\n", "Y Q==", "ＹＱ==", "YQ==YQ==", "€", "\x00"])
def test_b64_refuses_non_canonical(text):
    with raises_code("bad_base64"):
        b64decode(text)


@pytest.mark.parametrize("value", [None, 5, b"YQ==", ["YQ=="]])
def test_b64_refuses_non_text(value):
    with raises_code("bad_base64"):
        b64decode(value)


def test_b64_length():
    with raises_code("bad_length"):
        b64decode(b64encode(bytes(31)), length=32)
    with raises_code("bad_length"):
        b64decode("", length=1)
    assert b64decode("", length=0) == b""


# --- JSON --------------------------------------------------------------------------------


def test_json_bytes_is_compact_sorted_utf8():
    value = {"b": 1, "a": [True, None, "é"], "A": {"z": 0, "y": "中"}}
    assert json_bytes(value) == '{"A":{"y":"中","z":0},"a":[true,null,"é"],"b":1}'.encode()


def test_json_bytes_sorts_by_code_point():
    assert json_bytes({"é": 1, "z": 2, "Z": 3, "ä": 4}) == '{"Z":3,"z":2,"ä":4,"é":1}'.encode()


def test_json_bytes_escapes_only_what_json_requires():
    assert json_bytes({"t": 'a"b\\c\n\x01/</'}) == b'{"t":"a\\"b\\\\c\\n\\u0001/</"}'


@pytest.mark.parametrize("value", [{"x": 1.5}, {"x": 1.0}, {"x": float("nan")}, {"x": float("inf")},
                                   {"x": MAX_SAFE_INT + 1}, {"x": -MAX_SAFE_INT - 1}, {"x": [2**64]},
                                   {1: "non-string key"}, {"x": "\ud800"}])
def test_json_bytes_refuses_what_javascript_cannot_repeat(value):
    with raises_code("bad_json"):
        json_bytes(value)


def test_json_bytes_allows_the_safe_integer_range():
    assert json_bytes({"x": MAX_SAFE_INT, "y": -MAX_SAFE_INT}) == b'{"x":9007199254740991,"y":-9007199254740991}'


def test_json_load_round_trip():
    value = {"v": 1, "s": "نص", "l": [1, -2, {"n": None, "b": False}]}
    assert json_load(json_bytes(value), what="x") == value


@pytest.mark.parametrize("data", [
    b"", b" ", b"nope", b"[]", b"[1]", b"1", b'"s"', b"null", b"true",  # not an object
    b"\xff", b"\xef\xbb\xbf{}", b'{"a":"\xed\xa0\x80"}',  # not UTF-8 (BOM is refused by json.loads)
    b'{"a":1.5}', b'{"a":1e3}', b'{"a":1.0}', b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}',
    b'{"a":9007199254740992}', b'{"a":-9007199254740992}',
    b'{"a":' + b"7" * 5000 + b"}",  # beyond Python's int/str digit limit (a plain ValueError)
    b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}",  # RecursionError
    b'{"a":' + b'{"a":' * 100000 + b"1" + b"}" * 100001,
    b'{"a":1',
])
def test_json_load_refuses(data):
    with raises_code("bad_json"):
        json_load(data, what="test")


def test_json_load_accepts_the_safe_integer_range():
    assert json_load(b'{"a":9007199254740991,"b":-9007199254740991}', what="x") == {"a": MAX_SAFE_INT, "b": -MAX_SAFE_INT}


@pytest.mark.parametrize("value, expected", [(0, True), (-5, True), (2**60, True), (True, False), (False, False),
                                             (1.0, False), ("1", False), (None, False)])
def test_is_int(value, expected):
    assert is_int(value) is expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_json_load_random_bytes(data):
    try:
        value = json_load(data, what="random")
    except ProtocolError as exc:
        assert exc.code == "bad_json"
    else:
        assert isinstance(value, dict)


json_safe = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_safe, max_size=5))
def test_json_round_trip_random(value):
    data = json_bytes(value)
    assert json_load(data, what="x") == value
    assert json_bytes(json_load(data, what="x")) == data  # one spelling per value
    assert data == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
