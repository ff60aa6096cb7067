"""Every user-visible string exists in all six UN languages, with the same placeholders,
and every key the page and its scripts use is defined."""

import json
import re
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client_web"
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def flatten(node: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def catalogue(lang: str) -> dict[str, str]:
    return flatten(json.loads((CLIENT / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


def used_keys() -> set[str]:
    keys = set(re.findall(r'data-i18n="([\w.]+)"', (CLIENT / "index.html").read_text(encoding="utf-8")))
    for script in (CLIENT / "js").rglob("*.js"):
        keys |= set(re.findall(r"\bt\('([\w.]+)'", script.read_text(encoding="utf-8")))
    return keys


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_has_every_key_with_the_same_placeholders(lang):
    english, other = catalogue("en"), catalogue(lang)
    assert set(other) == set(english), f"{lang}: missing {sorted(set(english) - set(other))}, extra {sorted(set(other) - set(english))}"
    for key, text in english.items():
        assert isinstance(other[key], str) and other[key].strip(), f"{lang}:{key} is empty"
        assert set(PLACEHOLDER.findall(other[key])) == set(PLACEHOLDER.findall(text)), f"{lang}:{key} placeholders differ"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_direction_matches_the_script(lang):
    assert catalogue(lang)["meta.dir"] == ("rtl" if lang == "ar" else "ltr")


def test_every_key_the_client_uses_is_defined():
    english = catalogue("en")
    missing = sorted(k for k in used_keys() if k not in english)
    assert used_keys(), "found no translation keys in the client: the scan is broken"
    assert missing == []


def test_every_status_and_reply_error_has_a_message():
    from crypto.reply import STATUSES

    english = catalogue("en")
    for status in STATUSES:
        assert f"status.{status}" in english and f"status.{status}_help" in english
    for code in ("bad_signature", "decryption_failed", "wrong_case", "unknown_desk", "bad_reply", "reply_replayed", "unknown_case",
                 "case_key_invalid_character", "case_key_wrong_length", "case_key_bad_checksum"):
        assert f"errors.{code}" in english
