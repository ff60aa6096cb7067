"""Write the shared protocol vectors, tests/vectors/*.json, from the Python reference (crypto/).

Run once, from the repository root, and commit the output with this script:

    .venv/bin/python tests/vectors/generate.py

or only the files that do not depend on randomness elsewhere, leaving the others untouched:

    .venv/bin/python tests/vectors/generate.py report reply_notices reply_served envelope_duplicate
    .venv/bin/python tests/vectors/generate.py upload
    .venv/bin/python tests/vectors/generate.py pow

Keys come from fixed seeds, so a re-run gives the same keys, case keys and signatures. Sealed
boxes, nonces and secretstream headers are random, so their ciphertexts differ at every run:
the files hold ciphertexts Python made, and both implementations must open them
(tests/unit/test_vectors.py for Python, tests/vectors/test_vectors_browser.py for the browser).
The opposite direction, ciphertexts the browser made and Python opens, is checked live by the
browser test.

Conventions: keys and other short byte strings are lower-case hex (`*_hex`), long ones base64
(`*_b64`); "code" is the expected ProtocolError code. Attachment content is the pattern
byte[i] = (31·i + 7) mod 256, so the files need not carry the plaintext. Every list in a file
is a section that each runner must process entirely: they report how many items they checked
per section, and the tests compare that with the section lengths.
"""

import base64
import dataclasses
import hashlib
import json
import sys
import unicodedata
from pathlib import Path

from nacl.signing import SigningKey

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_box_seal,
    crypto_box_seed_keypair,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_sign_seed_keypair,
    sodium_pad,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crypto import attachment, casekey, envelope, kdf, manifest, padding, reply, report, signing  # noqa: E402
from crypto.desk import DeskKeys  # noqa: E402
from crypto.encoding import b64encode, json_bytes  # noqa: E402
from crypto.errors import ProtocolError  # noqa: E402

OUT = Path(__file__).resolve().parent
DAY = "2026-11-23"
GENERATED_BY = "tests/vectors/generate.py (Python reference, crypto/)"


# ---------------------------------------------------------------- helpers


def det(label: str, length: int) -> bytes:
    """Deterministic bytes for keys and data, so re-runs give the same keys."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.blake2b(f"quietline-vectors/{label}/{counter}".encode(), digest_size=64).digest()
        counter += 1
    return out[:length]


def pattern(length: int) -> bytes:
    return bytes((31 * i + 7) & 255 for i in range(length))


def hexs(data: bytes) -> str:
    return data.hex()


def code_of(fn) -> str:
    """Run fn and return the ProtocolError code it raises; the generator refuses a vector
    whose expected failure does not happen in the reference."""
    try:
        fn()
    except ProtocolError as exc:
        return exc.code
    raise AssertionError("expected a ProtocolError")


def desk_keys(desk_id: str, name: str) -> DeskKeys:
    box_pk, box_sk = crypto_box_seed_keypair(det(f"desk/{desk_id}/box", 32))
    sign_pk, sign_sk = crypto_sign_seed_keypair(det(f"desk/{desk_id}/sign", 32))
    return DeskKeys(desk_id, name, box_pk, box_sk, sign_pk, sign_sk)


def root_keys(label: str) -> tuple[bytes, bytes]:
    return crypto_sign_seed_keypair(det(f"root/{label}", 32))


def desk_json(d: DeskKeys, secrets: bool = False) -> dict:
    out = {
        "id": d.id,
        "name": d.name,
        "box_public_hex": hexs(d.box_public),
        "sign_public_hex": hexs(d.sign_public),
        "key_id_hex": hexs(d.public.key_id),
    }
    if secrets:
        out["box_secret_hex"] = hexs(d.box_secret)
        out["sign_secret_hex"] = hexs(d.sign_secret)
    return out


def manifest_json(m: manifest.Manifest) -> dict:
    return {
        "org": m.org,
        "issued": m.issued,
        "desks": [
            {
                "id": d.id,
                "name": d.name,
                "box_public_hex": hexs(d.box_public),
                "sign_public_hex": hexs(d.sign_public),
                "key_id_hex": hexs(d.key_id),
            }
            for d in m.desks
        ],
    }


def write(name: str, data: dict, ascii_only: bool = False) -> None:
    data = {"about": data.pop("about"), "generated_by": GENERATED_BY, **data}
    text = json.dumps(data, ensure_ascii=ascii_only, indent=1, sort_keys=False) + "\n"
    (OUT / name).write_text(text, encoding="utf-8")
    print(f"{name}: {len(text.encode()) // 1024} KiB")


DESKS = (
    desk_keys("desk-1", "Reprisals desk"),
    desk_keys("desk-2", "مكتب الأعمال الانتقامية"),
    desk_keys("desk-3", "报复行为办公室"),
)
OUTSIDER = desk_keys("outsider", "Not in the manifest")
ROOT_PK, ROOT_SK = root_keys("org")
OTHER_ROOT_PK, OTHER_ROOT_SK = root_keys("other")
MANIFEST = manifest.Manifest("OHCHR — Bureau des représailles", DAY, tuple(d.public for d in DESKS))
MANIFEST_FILE = manifest.sign_manifest(MANIFEST, ROOT_SK)


def case_key(label: str) -> bytes:
    return det(f"case/{label}", 16)


# ---------------------------------------------------------------- encoding


def gen_encoding() -> None:
    json_values = [
        {},
        [],
        {"b": 1, "a": 2, "c": {"z": [3, 2, 1], "y": None}},
        {"v": 1, "t": True, "f": False, "n": None, "neg": -42, "zero": 0, "max": 2**53 - 1, "min": -(2**53 - 1)},
        {"text": "Ελληνικά, Русский, العربية, 中文, español, français, हिन्दी, 😀"},
        {"controls": "\x00\x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x20\x7f", "quote": '"', "backslash": "\\", "slash": "/"},
        {"separators": "\u2028\u2029", "bom": "\ufeff", "nbsp": "\u00a0"},
        # Code-point order (Python's) differs from UTF-16 order for keys above U+FFFF.
        {"\uffff": 1, "\U0001f600": 2, "\ue000": 3, "a": 4, "A": 5, "é": 6, "": 7},
        {"nested": [{"b": [{"d": 1, "c": 2}], "a": "x"}, [[]], [{}]]},
        "a bare string",
        123,
        None,
    ]
    json_errors = [
        {"value": 1.5, "code": "bad_json"},
        {"value": {"a": [0.25]}, "code": "bad_json"},
        {"value": 2**53, "code": "bad_json"},
        {"value": -(2**53), "code": "bad_json"},
        {"value": "\ud800", "code": "bad_json"},
        {"value": {"x": "a\udc00b"}, "code": "bad_json"},
        {"value": {"\ud83d": 1}, "code": "bad_json"},
    ]
    for item in json_errors:
        assert code_of(lambda: json_bytes(item["value"])) == item["code"], item
    load_ok = [
        b'{"a":1}',
        b' {\n "b" : [1, 2, {"c": null}],\t"a": "x" }\r\n',
        b'{"a":1,"a":2}',
        b'{"__proto__":{"x":1},"constructor":2}',
        b'{"s":"\\u00e9\\ud83d\\ude00\\n\\/"}',
        b'{"lone":"\\ud800"}',
        '{"t":"مرحبا 你好"}'.encode(),
        b'{"n":-0,"m":9007199254740991,"k":-9007199254740991}',
    ]
    load_errors = [
        b"",
        b"not json",
        b"[1,2]",
        b'"text"',
        b"null",
        b'{"a":1.0}',
        b'{"a":1e3}',
        b'{"a":1E-3}',
        b'{"a":-0.0}',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":9007199254740992}',
        b'{"a":-9007199254740992}',
        b'{"a":123456789012345678901234567890}',
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b'{"a":"\xed\xa0\x80"}',
        b'{"a":1,}',
        b"{'a':1}",
        b'{"a":"\x01"}',
    ]
    from crypto.encoding import b64decode, json_load

    loads = []
    for raw in load_ok:
        loads.append({"bytes_hex": hexs(raw), "value": json_load(raw, what="vector")})
    load_err = []
    for raw in load_errors:
        load_err.append({"bytes_hex": hexs(raw), "code": code_of(lambda: json_load(raw, what="vector"))})
    base64_ok = [{"bytes_hex": hexs(pattern(n)), "text": b64encode(pattern(n))} for n in range(0, 8)]
    base64_ok.append({"bytes_hex": "fbff", "text": "+/8="})
    base64_errors = []
    for text in ["QR==", "QUJD====", "QQ", "QQ=", "Q===", "====", " QQ==", "QQ==\n", "QQ==QQ==", "-_8=", "QQ=\u003d\u0000",
                 "ÄQ==", "QUJ", "Q", None, 5]:
        base64_errors.append({"text": text, "code": code_of(lambda: b64decode(text))})
    base64_length = [
        {"text": b64encode(bytes(31)), "length": 32, "code": "bad_length"},
        {"text": b64encode(bytes(33)), "length": 32, "code": "bad_length"},
    ]
    for item in base64_length:
        assert code_of(lambda: b64decode(item["text"], length=item["length"])) == item["code"]
    write(
        "encoding.json",
        {
            "about": "Canonical JSON bytes (crypto.encoding.json_bytes) and strict readers (json_load, b64decode).",
            "json": [{"value": v, "bytes_hex": hexs(json_bytes(v))} for v in json_values],
            "json_errors": json_errors,
            "json_load": loads,
            "json_load_errors": load_err,
            "base64": base64_ok,
            "base64_errors": base64_errors,
            "base64_length_errors": base64_length,
        },
        ascii_only=True,  # the file carries lone surrogates, which only \u escapes can
    )


# ---------------------------------------------------------------- case key


FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
ARABIC = {str(i): chr(0x0660 + i) for i in range(10)}
PERSIAN = {str(i): chr(0x06F0 + i) for i in range(10)}
TO_CYRILLIC = dict(zip("ABEKMHPCTX", "АВЕКМНРСТХ"))


def gen_casekey() -> None:
    keys = [bytes(16), b"\xff" * 16, bytes(range(16))] + [case_key(f"encode/{i}") for i in range(7)]
    encode = [{"key_hex": hexs(k), "text": casekey.encode(k)} for k in keys]

    # A key whose text has letters with Cyrillic look-alikes and digits, to exercise every rule.
    i = 0
    while True:
        key = case_key(f"messy/{i}")
        text = casekey.encode(key)
        if sum(c in TO_CYRILLIC for c in text) >= 4 and "0" in text and "1" in text and sum(c.isdigit() for c in text) >= 6:
            break
        i += 1
    plain = text.replace("-", "")
    messy = {
        "canonical": text,
        "no separators": plain,
        "lower case": text.lower(),
        "spaces": " ".join(text.split("-")),
        "tabs and newlines": "\t" + "\n".join(text.split("-")) + "\r\n",
        "underscores and dots": "_".join(plain[:14]) + "." + plain[14:],
        "nbsp": "\u00a0".join(text.split("-")),
        "ideographic space": "\u3000".join(text.split("-")),
        "katakana middle dot": "\u30fb".join(text.split("-")),
        "hyphens U+2010-U+2015": "".join(g + chr(0x2010 + n % 6) for n, g in enumerate(text.split("-"))),
        "minus sign": "\u2212".join(text.split("-")),
        "full-width (Chinese/Japanese IME)": "".join(FULLWIDTH.get(c, c) for c in text),
        "full-width lower case": "".join(FULLWIDTH.get(c, c) for c in text.lower()),
        "Arabic-Indic digits": "".join(ARABIC.get(c, c) for c in text),
        "Extended Arabic-Indic digits": "".join(PERSIAN.get(c, c) for c in text),
        "Cyrillic look-alikes": "".join(TO_CYRILLIC.get(c, c) for c in text),
        "Cyrillic look-alikes, lower case": "".join(TO_CYRILLIC.get(c, c) for c in text).lower(),
        "Cyrillic O for zero": text.replace("0", "О"),
        "Crockford O I L": text.replace("0", "O").replace("1", "I"),
        "Crockford o i l lower": text.replace("0", "o").replace("1", "l").lower(),
        "dotless i": text.replace("1", "ı"),
        "mixed": " " + "".join(
            (FULLWIDTH.get(c, c) if n % 3 == 0 else ARABIC.get(c, c) if n % 3 == 1 else TO_CYRILLIC.get(c, c).lower())
            + ("\u00a0" if n % 4 == 3 else "")
            for n, c in enumerate(plain)
        ) + " ",
    }
    parse = []
    for label, messy_text in messy.items():
        normalized = casekey.normalize(messy_text)
        assert normalized == plain, label
        parse.append({"label": label, "input": messy_text, "normalized": normalized, "key_hex": hexs(casekey.parse(messy_text))})

    # Every other key's text typed plainly also parses back.
    for item in encode:
        parse.append({"label": "encoded", "input": item["text"], "normalized": item["text"].replace("-", ""),
                      "key_hex": item["key_hex"]})

    wrong = list(plain)
    wrong[5] = "0" if wrong[5] != "0" else "1"
    swapped = list(plain)
    j = next(n for n in range(27) if swapped[n] != swapped[n + 1])
    swapped[j], swapped[j + 1] = swapped[j + 1], swapped[j]
    bad = {
        "letter U (not Crockford)": plain[:-1] + "U",
        "asterisk": plain[:-1] + "*",
        "emoji": plain[:-1] + "😀",
        "Greek Alpha": "Α" + plain[1:],
        "Latin sharp s": plain[:-1] + "ß",
        "Devanagari digit": "१" + plain[1:],
        "comma": plain[:10] + "," + plain[10:],
        "27 characters": plain[:-1],
        "29 characters": plain + "0",
        "empty": "",
        "only separators": " - - ",
        "one character changed": "".join(wrong),
        "two characters swapped": "".join(swapped),
        "not text": None,
        "number": 12345,
    }
    errors = [{"label": label, "input": value, "code": code_of(lambda: casekey.parse(value))} for label, value in bad.items()]
    normalize_errors = [
        {"label": label, "input": value, "code": code_of(lambda: casekey.normalize(value))}
        for label, value in bad.items()
        if label not in ("one character changed", "two characters swapped")
    ]
    encode_errors = [{"key_hex": hexs(bytes(n)), "code": code_of(lambda: casekey.encode(bytes(n)))} for n in (0, 15, 17, 32)]
    write(
        "casekey.json",
        {
            "about": "Case keys: 16 bytes <-> 28 Crockford base32 characters with a 12-bit checksum (crypto/casekey.py).",
            "encode": encode,
            "encode_errors": encode_errors,
            "parse": parse,
            "normalize_errors": normalize_errors,
            "parse_errors": errors,
        },
    )


# ---------------------------------------------------------------- kdf


def gen_kdf() -> None:
    out = []
    for key in [bytes(16), b"\xff" * 16] + [case_key(f"kdf/{i}") for i in range(6)]:
        keys = kdf.derive_case_keys(key)
        out.append({
            "case_key_hex": hexs(key),
            "case_key_text": casekey.encode(key),
            "lookup_hex": hexs(keys.lookup),
            "reply_public_hex": hexs(keys.reply_public),
            "reply_secret_hex": hexs(keys.reply_secret),
            "sign_public_hex": hexs(keys.sign_public),
            "sign_secret_hex": hexs(keys.sign_secret),
            "case_id": kdf.case_id(keys.lookup),
        })
    master = det("kdf/master", 32)
    derive = [
        {"master_hex": hexs(master), "subkey_id": i, "context": "QLcase01", "length": n,
         "subkey_hex": hexs(kdf.kdf_derive(master, i, b"QLcase01", n))}
        for i, n in [(0, 32), (1, 32), (2, 16), (3, 64), (255, 32), (256, 32), (2**31 - 1, 32)]
    ]
    errors = [
        {"function": "derive_case_keys", "input_hex": hexs(bytes(15)), "code": code_of(lambda: kdf.derive_case_keys(bytes(15)))},
        {"function": "derive_case_keys", "input_hex": hexs(bytes(32)), "code": code_of(lambda: kdf.derive_case_keys(bytes(32)))},
        {"function": "case_id", "input_hex": hexs(bytes(16)), "code": code_of(lambda: kdf.case_id(bytes(16)))},
        {"function": "case_id", "input_hex": hexs(bytes(33)), "code": code_of(lambda: kdf.case_id(bytes(33)))},
    ]
    write(
        "kdf.json",
        {
            "about": "Key derivation from a case key (crypto/kdf.py); kdf_derive is libsodium's crypto_kdf_derive_from_key.",
            "cases": out,
            "kdf_derive": derive,
            "errors": errors,
        },
    )


# ---------------------------------------------------------------- padding


def gen_padding() -> None:
    lengths = [0, 1, 5, 100, 1022, 1023, 1024, 1025, 4095, 4096, 16383, 16384, 65535, 65536, 262143, 262144,
               1048574, 1048575]
    messages = []
    for n in lengths:
        padded = padding.pad_message(pattern(n))
        item = {"length": n, "bucket": len(padded), "padded_blake2b_hex": hashlib.blake2b(padded, digest_size=32).hexdigest()}
        if n <= 5:
            item["padded_hex"] = hexs(padded)
        assert padding.unpad_message(padded) == pattern(n)
        messages.append(item)
    too_large = [{"length": n, "code": code_of(lambda: padding.message_bucket(n))} for n in (1048576, 1048577, 5000000)]

    def unpad_case(label: str, data: bytes) -> dict:
        return {"label": label, "padded_hex": hexs(data), "code": code_of(lambda: padding.unpad_message(data))}

    unpad_errors = [
        unpad_case("all zeros", bytes(1024)),
        unpad_case("not a bucket size (1000)", sodium_pad(b"abc", 1000)),
        unpad_case("not a bucket size (1025)", sodium_pad(b"abc", 1025)[:1025]),
        unpad_case("empty", b""),
        unpad_case("0x80 then a non-zero byte", b"abc\x80" + b"\x01" + bytes(1019)),
        unpad_case("no 0x80 marker", b"abc" + b"\x01" + bytes(1020)),
        unpad_case("0x81 marker", b"abc\x81" + bytes(1020)),
    ]
    unpad_ok = [
        {"label": "marker last", "padded_hex": hexs(pattern(1023) + b"\x80"), "data_hex": hexs(pattern(1023))},
        {"label": "marker first", "padded_hex": hexs(b"\x80" + bytes(1023)), "data_hex": ""},
        {"label": "data ends in 0x80", "padded_hex": hexs(b"\x80\x80" + bytes(1022)), "data_hex": "80"},
    ]
    for item in unpad_ok:
        assert padding.unpad_message(bytes.fromhex(item["padded_hex"])) == bytes.fromhex(item["data_hex"])
    counts = [[n, padding.chunk_count_bucket(n)] for n in list(range(1, 101)) + [1000, 4095, 4096, 4097, 6145, 100000]]
    count_errors = [{"chunks": n, "code": code_of(lambda: padding.chunk_count_bucket(n))} for n in (0, -1)]
    is_bucket = [[n, padding.is_chunk_count_bucket(n)] for n in range(0, 50)]
    write(
        "padding.json",
        {
            "about": "Message padding to buckets (sodium_pad) and attachment chunk-count buckets (crypto/padding.py). "
            "Message data is the pattern byte[i] = (31*i + 7) mod 256; padded_blake2b_hex is unkeyed BLAKE2b-256.",
            "messages": messages,
            "too_large": too_large,
            "unpad_ok": unpad_ok,
            "unpad_errors": unpad_errors,
            "chunk_counts": counts,
            "chunk_count_errors": count_errors,
            "is_chunk_count_bucket": is_bucket,
        },
    )


# ---------------------------------------------------------------- signing


def gen_signing() -> None:
    pk, sk = crypto_sign_seed_keypair(det("signing/key", 32))
    other_pk, _ = crypto_sign_seed_keypair(det("signing/other", 32))
    data_items = [b"", b"hello", json_bytes({"v": 1, "text": "تقرير"}), pattern(3000)]
    sigs = []
    for purpose in signing.PURPOSES:
        for data in data_items:
            sig = signing.sign(purpose, data, sk)
            signing.verify(purpose, data, sig, pk)
            sigs.append({"purpose": purpose, "data_hex": hexs(data), "signature_hex": hexs(sig)})
    base = sigs[1]
    sig = bytes.fromhex(base["signature_hex"])
    data = bytes.fromhex(base["data_hex"])
    bad = []

    def bad_case(label, purpose, data_, sig_, pk_):
        bad.append({"label": label, "purpose": purpose, "data_hex": hexs(data_), "signature_hex": hexs(sig_),
                    "public_hex": hexs(pk_), "code": code_of(lambda: signing.verify(purpose, data_, sig_, pk_))})

    for other in signing.PURPOSES[1:]:
        bad_case(f"made for report, checked as {other}", other, data, sig, pk)
    bad_case("data changed", "report", b"hellO", sig, pk)
    bad_case("signature bit flipped", "report", data, bytes([sig[0] ^ 1]) + sig[1:], pk)
    bad_case("signature 63 bytes", "report", data, sig[:63], pk)
    bad_case("signature 65 bytes", "report", data, sig + b"\x00", pk)
    bad_case("other public key", "report", data, sig, other_pk)
    bad_case("public key 31 bytes", "report", data, sig, pk[:31])
    bad_case("unlabelled Ed25519 signature", "report", data,
             SigningKey(sk[:32]).sign(data).signature, pk)
    write(
        "signing.json",
        {
            "about": "Ed25519 over 'quietline:v1:' || purpose || '\\n' || data (crypto/signing.py). Ed25519 is "
            "deterministic, so both sides must produce exactly these signatures.",
            "seed_hex": hexs(det("signing/key", 32)),
            "public_hex": hexs(pk),
            "secret_hex": hexs(sk),
            "signatures": sigs,
            "verify_errors": bad,
        },
    )


# ---------------------------------------------------------------- manifest


def signed_file(body_bytes: bytes, *, root_sk: bytes = ROOT_SK, purpose: str = "manifest") -> bytes:
    return json_bytes({"format": "quietline.manifest", "v": 1, "body": b64encode(body_bytes),
                       "signature": b64encode(signing.sign(purpose, body_bytes, root_sk))})


def non_canonical(text: str) -> str:
    """The same bytes in a base64 spelling Python's lenient decoder accepts but the protocol refuses."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    if text.endswith("=="):  # the last data character carries 4 unused bits
        return text[:-3] + alphabet[alphabet.index(text[-3]) | 1] + "=="
    if text.endswith("="):  # 2 unused bits
        return text[:-2] + alphabet[alphabet.index(text[-2]) | 1] + "="
    return text + "===="


def base_body() -> dict:
    return json.loads(json_bytes(manifest._body(MANIFEST)))


def gen_manifest() -> None:
    single = manifest.Manifest("Org", "2025-01-31", (DESKS[0].public,))
    sixteen = manifest.Manifest("Sixteen", DAY, tuple(desk_keys(f"d{i}", f"Desk {i}").public for i in range(16)))
    valid = []
    for m in (MANIFEST, single, sixteen):
        data = manifest.sign_manifest(m, ROOT_SK)
        assert manifest.verify_manifest(data, ROOT_PK) == m
        valid.append({"file_b64": b64encode(data), "expect": manifest_json(m)})

    invalid = []

    def add(label: str, data: bytes, root_pk: bytes = ROOT_PK) -> None:
        code = code_of(lambda: manifest.verify_manifest(data, root_pk))
        invalid.append({"label": label, "file_b64": b64encode(data), "root_public_hex": hexs(root_pk), "code": code})

    good = MANIFEST_FILE
    outer = json.loads(good)
    body_bytes = json_bytes(base_body())

    def with_outer(**changes) -> bytes:
        d = dict(outer)
        for k, v in changes.items():
            if v is ...:
                d.pop(k, None)
            else:
                d[k] = v
        return json_bytes(d)

    def with_body(mutate) -> bytes:
        body = base_body()
        mutate(body)
        return signed_file(json_bytes(body))

    add("other root key", good, OTHER_ROOT_PK)
    add("root public key 31 bytes", good, ROOT_PK[:31])
    add("not JSON", b"manifest")
    add("empty file", b"")
    add("JSON array", b"[]")
    add("UTF-8 BOM", b"\xef\xbb\xbf" + good)
    add("invalid UTF-8", good.replace(b'"quietline.manifest"', b'"quietline.manifest\xff"'))
    add("format missing", with_outer(format=...))
    add("format wrong", with_outer(format="quietline.bundle"))
    add("version 2", with_outer(v=2))
    add("version as text", with_outer(v="1"))
    add("version true", with_outer(v=True))
    add("version 1.0", good.replace(b'"v":1', b'"v":1.0'))
    add("body missing", with_outer(body=...))
    add("body not base64", with_outer(body="not base64!"))
    add("body non-canonical base64", with_outer(body=non_canonical(outer["body"])))
    add("body padded with ====", with_outer(body=outer["body"] + "====" if not outer["body"].endswith("=") else outer["body"] + "=="))
    add("signature missing", with_outer(signature=...))
    add("signature 63 bytes", with_outer(signature=b64encode(bytes(63))))
    raw_sig = base64.b64decode(outer["signature"])
    add("signature bit flipped", with_outer(signature=b64encode(bytes([raw_sig[0] ^ 1]) + raw_sig[1:])))
    add("signature non-canonical base64", with_outer(signature=non_canonical(outer["signature"])))
    assert b"OHCHR" in body_bytes
    add("body changed, old signature", with_outer(body=b64encode(body_bytes.replace(b"OHCHR", b"OHCHQ"))))
    add("signed as a bundle", signed_file(body_bytes, purpose="bundle"))
    add("signed by another root", signed_file(body_bytes, root_sk=OTHER_ROOT_SK))
    add("signed body not JSON", signed_file(b"not json"))
    add("signed body is an array", signed_file(b"[1]"))
    add("signed body with a float", signed_file(body_bytes.replace(b'"v":1', b'"v":1.0')))
    add("signed body with BOM", signed_file(b"\xef\xbb\xbf" + body_bytes))
    add("body version 2", with_body(lambda b: b.update(v=2)))
    add("body version true", with_body(lambda b: b.update(v=True)))
    add("body version missing", with_body(lambda b: b.pop("v")))
    add("no desks", with_body(lambda b: b.update(desks=[])))
    add("desks missing", with_body(lambda b: b.pop("desks")))
    add("desks not a list", with_body(lambda b: b.update(desks={"id": "desk-1"})))
    seventeen = json.loads(json_bytes(manifest._body(sixteen)))
    seventeen["desks"].append(base_body()["desks"][0])
    add("17 desks", signed_file(json_bytes(seventeen)))
    add("desk not an object", with_body(lambda b: b["desks"].append("desk-9")))
    add("desk id missing", with_body(lambda b: b["desks"][1].pop("id")))
    add("desk id a number", with_body(lambda b: b["desks"][1].update(id=7)))
    add("desk id upper case", with_body(lambda b: b["desks"][1].update(id="Desk-2")))
    add("desk id with trailing newline", with_body(lambda b: b["desks"][1].update(id="desk-2\n")))
    add("desk id starts with a dash", with_body(lambda b: b["desks"][1].update(id="-desk")))
    add("desk id 33 characters", with_body(lambda b: b["desks"][1].update(id="d" * 33)))
    add("desk id empty", with_body(lambda b: b["desks"][1].update(id="")))
    add("desk ids repeated", with_body(lambda b: b["desks"][1].update(id="desk-1")))
    add("desk name missing", with_body(lambda b: b["desks"][1].pop("name")))
    add("desk name a number", with_body(lambda b: b["desks"][1].update(name=5)))
    add("desk box key 31 bytes", with_body(lambda b: b["desks"][1].update(box_pk=b64encode(bytes(31)))))
    add("desk sign key 33 bytes", with_body(lambda b: b["desks"][1].update(sign_pk=b64encode(bytes(33)))))
    add("desk box key missing", with_body(lambda b: b["desks"][1].pop("box_pk")))
    add("desk box key non-canonical base64", with_body(lambda b: b["desks"][1].update(
        box_pk=non_canonical(b["desks"][1]["box_pk"]))))
    add("two desks share both keys", with_body(lambda b: b["desks"][1].update(
        box_pk=b["desks"][0]["box_pk"], sign_pk=b["desks"][0]["sign_pk"])))
    add("two desks share a box key", with_body(lambda b: b["desks"][1].update(box_pk=b["desks"][0]["box_pk"])))
    add("two desks share a signing key", with_body(lambda b: b["desks"][1].update(sign_pk=b["desks"][0]["sign_pk"])))
    add("issued missing", with_body(lambda b: b.pop("issued")))
    add("issued not a day", with_body(lambda b: b.update(issued="2026-1-1")))
    add("issued with a time", with_body(lambda b: b.update(issued="2026-11-23T10:00:00Z")))
    add("issued with trailing newline", with_body(lambda b: b.update(issued="2026-11-23\n")))
    add("issued in Arabic-Indic digits", with_body(lambda b: b.update(issued="٢٠٢٦-١١-٢٣")))
    add("issued a number", with_body(lambda b: b.update(issued=20261123)))
    add("org missing", with_body(lambda b: b.pop("org")))
    add("org a number", with_body(lambda b: b.update(org=1)))
    for item in invalid:
        assert item["code"] in {"bad_json", "bad_manifest", "unsupported_version", "bad_signature", "bad_base64",
                                "bad_length"}, item
    fingerprints = [{"public_hex": hexs(pk), "fingerprint": manifest.fingerprint(pk)}
                    for pk in [ROOT_PK, OTHER_ROOT_PK, bytes(32)] + [d.box_public for d in DESKS]]
    key_ids = [{"box_public_hex": hexs(d.box_public), "sign_public_hex": hexs(d.sign_public),
                "key_id_hex": hexs(d.public.key_id)} for d in DESKS + (OUTSIDER,)]
    write(
        "manifest.json",
        {
            "about": "Recipients manifests signed by the organisation root key (crypto/manifest.py).",
            "root_public_hex": hexs(ROOT_PK),
            "root_fingerprint": manifest.fingerprint(ROOT_PK),
            "valid": valid,
            "invalid": invalid,
            "fingerprints": fingerprints,
            "key_ids": key_ids,
        },
    )


# ---------------------------------------------------------------- envelope


def raw_envelope(kind_byte: int, desks, inner_padded: bytes) -> bytes:
    """An envelope with any plaintext, for refusals that come after decryption."""
    data_key = det("envelope/data-key", 32)
    header = bytearray(b"QLEN" + bytes([1, kind_byte, len(desks)]))
    for d in desks:
        header += d.public.key_id + crypto_box_seal(data_key, d.box_public)
    header += det("envelope/nonce", 24)
    return bytes(header) + crypto_aead_xchacha20poly1305_ietf_encrypt(inner_padded, bytes(header), bytes(header[-24:]), data_key)


def gen_envelope() -> None:
    case = kdf.derive_case_keys(case_key("envelope"))
    cid = kdf.case_id(case.lookup)
    report = {
        "v": 1, "kind": "report", "case_id": cid, "day": DAY, "lang": "ar",
        "reply_pk": b64encode(case.reply_public), "sign_pk": b64encode(case.sign_public),
        "report": {"schema": "quietline.report/1", "country": "XX", "text": "تعرضت للتهديد بعد الاجتماع.\nEnglish too."},
        "attachments": [{"upload_id": hexs(det("upload", 16)), "name": "photo 照片.jpg", "type": "image/jpeg",
                         "size": 262145, "key": b64encode(det("att-key", 32)), "header": b64encode(det("att-h", 24)),
                         "chunks": 2}],
    }
    followup = {"v": 1, "kind": "followup", "case_id": cid, "id": hexs(det("followup-id", 16)), "day": DAY,
                "text": "Ещё одна деталь.", "attachments": []}
    long_report = json.loads(json.dumps(report))
    long_report["report"]["text"] = "x" * 20000  # lands in the 64 KiB bucket
    all_desks = tuple(d.public for d in DESKS)
    made = [
        ("report to every desk", "report", report, all_desks),
        ("report to one desk", "report", report, (DESKS[1].public,)),
        ("follow-up to every desk", "followup", followup, all_desks),
        ("follow-up to two desks, reversed", "followup", followup, (DESKS[2].public, DESKS[0].public)),
        ("long report", "report", long_report, all_desks),
    ]
    valid = []
    for label, kind, body, desks in made:
        env = envelope.seal(kind, body, case.sign_secret, desks)
        header = envelope.parse_header(env)
        for d in DESKS:
            if d.public in desks:
                opened = envelope.open_envelope(env, d.public, d.box_secret)
                opened.verify(case.sign_public)
                assert opened.body == body
        valid.append({"label": label, "kind": kind, "envelope_b64": b64encode(env),
                      "recipients_hex": [hexs(r) for r in header.recipients], "header_length": header.header_length,
                      "body": body})

    base = bytearray(envelope.seal("report", report, case.sign_secret, all_desks))
    invalid = []

    def add(label: str, data: bytes, desk: DeskKeys, framing: bool) -> None:
        code = code_of(lambda: envelope.open_envelope(bytes(data), desk.public, desk.box_secret))
        framing_code = None
        try:
            envelope.parse_header(bytes(data))
        except ProtocolError as exc:
            framing_code = exc.code
        assert (framing_code == code) if framing else framing_code is None, (label, code, framing_code)
        invalid.append({"label": label, "envelope_b64": b64encode(bytes(data)), "desk": desk.id, "code": code,
                        "framing": framing})

    def changed(offset: int, value: int | None = None, xor: int = 1) -> bytes:
        data = bytearray(base)
        data[offset] = value if value is not None else data[offset] ^ xor
        return bytes(data)

    n = 3
    hl = 7 + n * 88 + 24
    add("magic", changed(0, ord("X")), DESKS[0], True)
    add("version 2", changed(4, 2), DESKS[0], True)
    add("version 0", changed(4, 0), DESKS[0], True)
    add("kind 3", changed(5, 3), DESKS[0], True)
    add("kind 0", changed(5, 0), DESKS[0], True)
    add("no recipients", changed(6, 0), DESKS[0], True)
    add("17 recipients", changed(6, 17), DESKS[0], True)
    add("count says 2 of 3", changed(6, 2), DESKS[0], True)
    add("one byte short", bytes(base[:-1]), DESKS[0], True)
    add("one byte more", bytes(base) + b"\x00", DESKS[0], True)
    add("six bytes", bytes(base[:6]), DESKS[0], True)
    add("empty", b"", DESKS[0], True)
    add("header kind changed to follow-up", changed(5, 2), DESKS[0], False)
    add("ciphertext bit flipped", changed(len(base) - 100), DESKS[1], False)
    add("tag bit flipped", changed(len(base) - 1), DESKS[2], False)
    add("nonce bit flipped", changed(hl - 1), DESKS[0], False)
    add("this desk's sealed key flipped", changed(7 + 88 * 1 + 8 + 40), DESKS[1], False)
    add("another desk's sealed key flipped", changed(7 + 88 * 2 + 8 + 40), DESKS[1], False)
    add("another desk's key id changed", changed(7 + 88 * 2), DESKS[0], False)
    swapped = bytearray(base)
    swapped[7:7 + 88], swapped[7 + 88:7 + 176] = base[7 + 88:7 + 176], base[7:7 + 88]
    add("recipient entries swapped", bytes(swapped), DESKS[0], False)
    add("this desk's key id changed", changed(7), DESKS[0], False)
    add("not sealed to this desk", bytes(base), OUTSIDER, False)
    report_bytes = json_bytes(report)
    sig = signing.sign("report", report_bytes, case.sign_secret)
    add("body kind is followup in a report", raw_envelope(1, DESKS, padding.pad_message(
        signing.sign("report", json_bytes(followup), case.sign_secret) + json_bytes(followup))), DESKS[0], False)
    add("body not JSON", raw_envelope(1, DESKS, padding.pad_message(sig + b"not json")), DESKS[0], False)
    add("padding all zeros", raw_envelope(1, DESKS, bytes(1024)), DESKS[0], False)
    inner = sig + report_bytes
    add("padding marker wrong", raw_envelope(1, DESKS, inner + b"\x81" + bytes(padding.message_bucket(len(inner)) - len(inner) - 1)),
        DESKS[0], False)
    add("shorter than a signature", raw_envelope(1, DESKS, padding.pad_message(b"short")), DESKS[0], False)
    wrong_kind = [{"label": "report expected, follow-up given", "envelope_b64": valid[2]["envelope_b64"],
                   "expect_kind": "report", "code": "wrong_kind"},
                  {"label": "follow-up expected, report given", "envelope_b64": valid[0]["envelope_b64"],
                   "expect_kind": "followup", "code": "wrong_kind"}]
    for item in wrong_kind:
        assert code_of(lambda: envelope.parse_header(base64.b64decode(item["envelope_b64"]),
                                                     expect_kind=item["expect_kind"])) == item["code"]
    write(
        "envelope.json",
        {
            "about": "Report and follow-up envelopes sealed by Python (crypto/envelope.py). Every implementation "
            "checks the framing (parse_header); desks (Python) also open them. 'framing': the refusal comes from "
            "parse_header, which a server without keys runs; otherwise parse_header accepts the envelope.",
            "case_key_text": casekey.encode(case_key("envelope")),
            "case_sign_public_hex": hexs(case.sign_public),
            "root_public_hex": hexs(ROOT_PK),
            "manifest_b64": b64encode(MANIFEST_FILE),
            "desks": [desk_json(d, secrets=True) for d in DESKS + (OUTSIDER,)],
            "valid": valid,
            "invalid": invalid,
            "wrong_kind": wrong_kind,
        },
    )


# ---------------------------------------------------------------- attachment


def gen_attachment() -> None:
    sizes = [0, 1, 1000, 262144, 262145]
    streams = []
    for size in sizes:
        params, chunks = attachment.seal_bytes(pattern(size), det(f"attachment/key/{size}", 32))
        assert attachment.open_bytes(params, b"".join(chunks)) == pattern(size)
        streams.append({"size": size, "key_hex": hexs(params.key), "header_hex": hexs(params.header),
                        "chunks": params.chunks, "ciphertext_b64": b64encode(b"".join(chunks))})
    from crypto.attachment import CHUNK_CIPHERTEXT as CC
    from crypto.attachment import StreamParams

    def p(i: int) -> StreamParams:
        s = streams[i]
        return StreamParams(bytes.fromhex(s["key_hex"]), bytes.fromhex(s["header_hex"]), s["size"], s["chunks"])

    def ct(i: int) -> bytes:
        return base64.b64decode(streams[i]["ciphertext_b64"])

    # Tampering is described, not stored, to keep the file small; both runners apply it.
    tampered = [
        {"label": "bit flipped in chunk 0", "stream": 4, "ops": [{"flip": 1000}]},
        {"label": "bit flipped in chunk 1 tag", "stream": 4, "ops": [{"flip": 2 * CC - 1}]},
        {"label": "chunks swapped", "stream": 4, "ops": [{"swap_chunks": [0, 1]}]},
        {"label": "last byte missing", "stream": 4, "ops": [{"truncate": 2 * CC - 1}]},
        {"label": "last chunk missing", "stream": 4, "ops": [{"truncate": CC}]},
        {"label": "chunk repeated", "stream": 4, "ops": [{"duplicate_chunk": 0}]},
        {"label": "extra chunk", "stream": 1, "ops": [{"append_zeros": CC}]},
        {"label": "header bit flipped", "stream": 1, "ops": [{"params": {"header_flip": 0}}]},
        {"label": "wrong key", "stream": 1, "ops": [{"params": {"key_hex": hexs(det("attachment/wrong", 32))}}]},
        {"label": "other stream's header", "stream": 1, "ops": [{"params": {"header_hex": streams[0]["header_hex"]}}]},
        {"label": "final chunk declared as first of two (FINAL too early)", "stream": 3,
         "ops": [{"params": {"size": 262145, "chunks": 2}}, {"append_zeros": CC}]},
        {"label": "two chunks declared as one (no FINAL on the last)", "stream": 4,
         "ops": [{"params": {"size": 262144, "chunks": 1}}, {"truncate": CC}]},
        {"label": "content hidden in the padding (size understated)", "stream": 2, "ops": [{"params": {"size": 1}}]},
        {"label": "size 0 for a 1000-byte file", "stream": 2, "ops": [{"params": {"size": 0}}]},
        {"label": "chunk count not a bucket", "stream": 4, "ops": [{"params": {"chunks": 5}}]},
        {"label": "chunk count disagrees with size", "stream": 1, "ops": [{"params": {"chunks": 2}}]},
        {"label": "key 31 bytes", "stream": 1, "ops": [{"params": {"key_hex": hexs(det("k", 31))}}]},
        {"label": "header 23 bytes", "stream": 1, "ops": [{"params": {"header_hex": hexs(det("h", 23))}}]},
        {"label": "negative size", "stream": 1, "ops": [{"params": {"size": -1}}]},
    ]

    def apply(item) -> tuple[StreamParams, bytes]:
        params, data = p(item["stream"]), bytearray(ct(item["stream"]))
        for op in item["ops"]:
            if "flip" in op:
                data[op["flip"]] ^= 1
            elif "swap_chunks" in op:
                a, b = op["swap_chunks"]
                ca, cb = data[a * CC:(a + 1) * CC], data[b * CC:(b + 1) * CC]
                data[a * CC:(a + 1) * CC], data[b * CC:(b + 1) * CC] = cb, ca
            elif "truncate" in op:
                del data[len(data) - op["truncate"]:]
            elif "duplicate_chunk" in op:
                i = op["duplicate_chunk"]
                data[(i + 1) * CC:(i + 1) * CC] = data[i * CC:(i + 1) * CC]
            elif "append_zeros" in op:
                data += bytes(op["append_zeros"])
            elif "params" in op:
                q = op["params"]
                header = params.header
                if "header_flip" in q:  # flip the named byte, as the test and the JS runner do
                    flipped = bytearray(header)
                    flipped[q["header_flip"]] ^= 1
                    header = bytes(flipped)
                if "header_hex" in q:
                    header = bytes.fromhex(q["header_hex"])
                key = bytes.fromhex(q["key_hex"]) if "key_hex" in q else params.key
                params = StreamParams(key, header, q.get("size", params.size), q.get("chunks", params.chunks))
        return params, bytes(data)

    for item in tampered:
        params, data = apply(item)
        item["code"] = code_of(lambda: attachment.open_bytes(params, data))

    # Chunk-by-chunk reading (what a streaming reader sees), including too many and wrong-sized chunks.
    streaming = [
        {"label": "a chunk after the final one", "stream": 1, "feed": [[0, CC], [0, CC]], "code": "too_many_chunks"},
        {"label": "short chunk", "stream": 4, "feed": [[0, CC - 1]], "code": "truncated"},
        {"label": "long chunk", "stream": 1, "feed": [[0, CC + 1]], "code": "truncated"},
        {"label": "finish before the final chunk", "stream": 4, "feed": [[0, CC]], "finish": True, "code": "truncated"},
    ]
    for item in streaming:
        def run(item=item):
            data = ct(item["stream"]) + bytes(CC)
            opener = attachment.AttachmentOpener(p(item["stream"]))
            for start, length in item["feed"]:
                opener.open_chunk(data[start:start + length])
            if item.get("finish"):
                opener.finish()
        assert code_of(run) == item["code"], item

    sealer_errors = []
    for size, feed in [(10, [9]), (10, [11]), (10, [10, 0]), (262145, [262144, 0]), (262145, [262145]),
                       (0, [1]), (0, [0, 0]), (524289, [262144, 262144, 1, 0])]:
        def run(size=size, feed=feed):
            sealer = attachment.AttachmentSealer(size, det("sealer", 32))
            for n in feed:
                sealer.seal_chunk(pattern(n))
        sealer_errors.append({"size": size, "feed": feed, "code": code_of(run)})
    sealer_errors.append({"size": -1, "feed": [], "code": code_of(lambda: attachment.AttachmentSealer(-1))})
    counts = [[s, attachment.chunks_for_size(s)] for s in
              [0, 1, 262143, 262144, 262145, 524288, 524289, 786432, 786433, 1048576, 1048577, 1572865, 104857600]]
    write(
        "attachment.json",
        {
            "about": "Attachment streams sealed by Python (crypto/attachment.py); content is the pattern "
            "byte[i] = (31*i + 7) mod 256. 'tampered' applies 'ops' in order to stream 'stream' (flip: xor 1 at "
            "an offset; truncate: drop that many bytes from the end; params: replace key/header/size/chunks).",
            "chunk_plaintext": attachment.CHUNK_PLAINTEXT,
            "chunk_ciphertext": CC,
            "chunks_for_size": counts,
            "streams": streams,
            "tampered": tampered,
            "streaming_errors": streaming,
            "sealer_errors": sealer_errors,
        },
    )


# ---------------------------------------------------------------- resumable uploads


def gen_upload() -> None:
    """upload.json: derivations for resumable attachments (crypto/upload.py) and resumed streams
    whose chunks equal the original's. Written alone (`generate.py upload`)."""
    from crypto import upload

    def content(size: int, flip: int | None = None) -> bytes:
        data = bytearray(pattern(size))
        if flip is not None:
            data[flip] ^= 1
        return bytes(data)

    key_a, key_b = case_key("upload/a"), case_key("upload/b")
    derivations = []
    for label, key, size, flip in [
        ("empty file", key_a, 0, None), ("one byte", key_a, 1, None), ("1000 bytes", key_a, 1000, None),
        ("one whole chunk", key_a, 262144, None), ("one chunk and a byte", key_a, 262145, None),
        ("three chunks", key_a, 600000, None), ("four chunks", key_a, 786433, None),
        ("same file, other case", key_b, 1000, None), ("last byte changed", key_a, 1000, 999),
        ("first byte changed", key_a, 600000, 0), ("zero case key", bytes(16), 0, None),
    ]:
        data = content(size, flip)
        root = upload.upload_root(key)
        digest = upload.file_hash([data])
        handle = upload.resume(root, digest)
        assert upload.upload_keys(key, digest) == (handle, upload.stream_key(root, digest))
        item = {"label": label, "case_key_hex": hexs(key), "case_key_text": casekey.encode(key), "size": size,
                "upload_root_hex": hexs(root), "file_hash_hex": hexs(digest), "resume_hex": hexs(handle),
                "stream_key_hex": hexs(upload.stream_key(root, digest)), "resume_index": upload.resume_index(handle)}
        if flip is not None:
            item["flip"] = flip
        derivations.append(item)
    assert len({d["resume_index"] for d in derivations}) == len(derivations)

    file_hashes = []
    for size, pieces in [(0, []), (0, [0]), (0, [0, 0]), (1000, [1000]), (1000, [1, 999]), (1000, [500, 0, 500]),
                         (600000, [600000]), (600000, [262144, 262144, 75712]), (600000, [127, 128, 599745]),
                         (600000, [300000, 0, 300000])]:
        assert sum(pieces) == size
        data, at, parts = pattern(size), 0, []
        for n in pieces:
            parts.append(data[at:at + n])
            at += n
        digest = upload.file_hash(parts)
        assert digest == upload.file_hash([data])
        file_hashes.append({"size": size, "pieces": pieces, "file_hash_hex": hexs(digest)})

    resumed = []
    for index, sent in [(0, 0), (2, 0), (4, 1), (5, 2), (6, 3), (7, 0)]:
        d = derivations[index]
        data = content(d["size"], d.get("flip"))
        key = bytes.fromhex(d["stream_key_hex"])
        params, original = attachment.seal_bytes(data, key)  # fresh: a random header
        again_params, again = attachment.seal_bytes(data, key, params.header)
        assert again == original and again_params == params
        assert attachment.open_bytes(params, b"".join(again)) == data
        resumed.append({"label": f"{d['label']}, resumed after {sent} of {params.chunks} chunks", "derivation": index,
                        "size": d["size"], "chunks": params.chunks, "stream_key_hex": d["stream_key_hex"],
                        "header_hex": hexs(params.header), "sent_before_drop": sent,
                        "chunk_blake2b_hex": [hashlib.blake2b(c, digest_size=32).hexdigest() for c in original]})

    root = derivations[0]["upload_root_hex"]
    digest = derivations[0]["file_hash_hex"]
    errors = []
    for function, args, fn in [
        ("upload_root", {"case_key_hex": hexs(bytes(15))}, lambda: upload.upload_root(bytes(15))),
        ("upload_root", {"case_key_hex": hexs(bytes(32))}, lambda: upload.upload_root(bytes(32))),
        ("resume", {"root_hex": root[:-2], "digest_hex": digest}, lambda: upload.resume(bytes.fromhex(root[:-2]), bytes.fromhex(digest))),
        ("resume", {"root_hex": root, "digest_hex": digest + "00"}, lambda: upload.resume(bytes.fromhex(root), bytes.fromhex(digest + "00"))),
        ("stream_key", {"root_hex": root + "00", "digest_hex": digest}, lambda: upload.stream_key(bytes.fromhex(root + "00"), bytes.fromhex(digest))),
        ("stream_key", {"root_hex": root, "digest_hex": ""}, lambda: upload.stream_key(bytes.fromhex(root), b"")),
        ("resume_index", {"handle_hex": hexs(bytes(16))}, lambda: upload.resume_index(bytes(16))),
        ("resume_index", {"handle_hex": hexs(bytes(33))}, lambda: upload.resume_index(bytes(33))),
        ("resume_sealer", {"size": 10, "key_hex": hexs(bytes(32)), "header_hex": hexs(bytes(23))},
         lambda: attachment.AttachmentSealer(10, bytes(32), bytes(23))),
        ("resume_sealer", {"size": 10, "key_hex": hexs(bytes(31)), "header_hex": hexs(bytes(24))},
         lambda: attachment.AttachmentSealer(10, bytes(31), bytes(24))),
        ("resume_sealer", {"size": -1, "key_hex": hexs(bytes(32)), "header_hex": hexs(bytes(24))},
         lambda: attachment.AttachmentSealer(-1, bytes(32), bytes(24))),
    ]:
        errors.append({"function": function, "args": args, "code": code_of(fn)})

    write(
        "upload.json",
        {
            "about": "Resumable attachments (crypto/upload.py, docs/PROTOCOL.md 'Resumable attachments'). File "
            "content is the pattern byte[i] = (31*i + 7) mod 256 of 'size' bytes, with byte 'flip' xored with 1 "
            "when given. 'file_hash' hashes the same content fed in pieces of the listed lengths. "
            "'resumed_streams': Python sealed the derivation's file under its stream key with a random header; "
            "a sealer restarted from (stream key, header) must give chunks whose unkeyed BLAKE2b-32 are "
            "'chunk_blake2b_hex', whether the first 'sent_before_drop' chunks were sealed before or not.",
            "derivations": derivations,
            "file_hash": file_hashes,
            "resumed_streams": resumed,
            "errors": errors,
        },
    )


# ---------------------------------------------------------------- reply


def raw_reply(key_id: bytes, inner_padded: bytes, reply_pk: bytes) -> bytes:
    return reply.MAGIC + bytes([1]) + key_id + crypto_box_seal(inner_padded, reply_pk)


def gen_reply() -> None:
    key_a, key_b = case_key("reply/a"), case_key("reply/b")
    a, b = kdf.derive_case_keys(key_a), kdf.derive_case_keys(key_b)
    cid_a, cid_b = kdf.case_id(a.lookup), kdf.case_id(b.lookup)
    made = [
        reply.Reply(cid_a, 1, "received", "We have received your report.", DAY, "desk-1"),
        reply.Reply(cid_a, 2, "more_information_needed", "هل يمكنك أن تخبرنا بالمزيد؟\n谢谢。", "2026-11-24", "desk-2"),
        reply.Reply(cid_a, 3, "closed", "", "2026-12-01", "desk-3"),
        reply.Reply(cid_a, 9007199254740991, "action_under_way", "y" * 5000, "2027-01-01", "desk-1"),
    ]
    for status in reply.STATUSES:
        made.append(reply.Reply(cid_a, 10, status, status, DAY, "desk-1"))
    by_id = {d.id: d for d in DESKS}
    valid = []
    for r in made:
        d = by_id[r.desk]
        blob = reply.seal_reply(r, d.public, d.sign_secret, a.reply_public)
        assert reply.open_reply(blob, MANIFEST, a.reply_public, a.reply_secret, cid_a) == r
        valid.append({"blob_b64": b64encode(blob), "case": "a",
                      "expect": {"case_id": r.case_id, "seq": r.seq, "status": r.status, "text": r.text, "day": r.day,
                                 "desk": r.desk}})

    invalid = []
    cases = {"a": (a, cid_a), "b": (b, cid_b)}

    def add(label: str, blob: bytes, case: str = "a") -> None:
        keys, cid = cases[case]
        code = code_of(lambda: reply.open_reply(blob, MANIFEST, keys.reply_public, keys.reply_secret, cid))
        invalid.append({"label": label, "blob_b64": b64encode(blob), "case": case, "code": code})

    d1, d2 = DESKS[0], DESKS[1]
    good_body = made[0].body()

    def signed(body, desk=d1, key_id=None, purpose="reply", to=a.reply_public, raw=None) -> bytes:
        body_bytes = raw if raw is not None else json_bytes(body)
        inner = signing.sign(purpose, body_bytes, desk.sign_secret) + body_bytes
        return raw_reply(key_id or desk.public.key_id, padding.pad_message(inner), to)

    good = reply.seal_reply(made[0], d1.public, d1.sign_secret, a.reply_public)
    add("another case's reply key", good, "b")
    add("sealed to case b, names case a", signed(good_body, to=b.reply_public), "b")
    add("for another case (case_id inside)", signed({**good_body, "case_id": cid_b}))
    add("desk not in the manifest", signed({**good_body, "desk": "outsider"}, desk=OUTSIDER))
    add("header names desk 1, signed by desk 2", signed({**good_body, "desk": "desk-1"}, desk=d2, key_id=d1.public.key_id))
    add("header names desk 2, body names desk 1", signed({**good_body, "desk": "desk-1"}, desk=d2))
    add("signed for another purpose", signed(good_body, purpose="report"))
    add("ciphertext bit flipped", good[:-5] + bytes([good[-5] ^ 1]) + good[-4:])
    add("ephemeral key bit flipped", good[:13] + bytes([good[13] ^ 1]) + good[14:])
    add("magic", b"QLRQ" + good[4:])
    add("version 2", good[:4] + b"\x02" + good[5:])
    add("one byte short", good[:-1])
    add("one byte more", good + b"\x00")
    add("twelve bytes", good[:12])
    add("empty", b"")
    add("padding all zeros", raw_reply(d1.public.key_id, bytes(1024), a.reply_public))
    add("shorter than a signature", raw_reply(d1.public.key_id, padding.pad_message(b"short"), a.reply_public))
    add("body not JSON", signed(None, raw=b"not json"))
    add("body a JSON array", signed(None, raw=b"[]"))
    add("seq 1.0", signed(None, raw=json_bytes(good_body).replace(b'"seq":1', b'"seq":1.0')))
    add("version 2", signed({**good_body, "v": 2}))
    add("version true", signed({**good_body, "v": True}))
    add("version missing", signed({k: v for k, v in good_body.items() if k != "v"}))
    add("kind report", signed({**good_body, "kind": "report"}))
    add("seq 0", signed({**good_body, "seq": 0}))
    add("seq -1", signed({**good_body, "seq": -1}))
    add("seq true", signed({**good_body, "seq": True}))
    add("seq as text", signed({**good_body, "seq": "1"}))
    add("seq missing", signed({k: v for k, v in good_body.items() if k != "seq"}))
    add("unknown status", signed({**good_body, "status": "done"}))
    add("status missing", signed({k: v for k, v in good_body.items() if k != "status"}))
    add("text a number", signed({**good_body, "text": 5}))
    add("text missing", signed({k: v for k, v in good_body.items() if k != "text"}))
    add("day not a day", signed({**good_body, "day": "2026-1-1"}))
    add("day with a time", signed({**good_body, "day": "2026-11-23T10:00"}))
    add("day in Arabic-Indic digits", signed({**good_body, "day": "٢٠٢٦-١١-٢٣"}))
    add("day missing", signed({k: v for k, v in good_body.items() if k != "day"}))
    add("desk missing", signed({k: v for k, v in good_body.items() if k != "desk"}))
    write(
        "reply.json",
        {
            "about": "Replies sealed by Python desks (crypto/reply.py) to case 'a'; opened with case 'a' or 'b' keys "
            "derived from the case key texts, against the manifest.",
            "cases": {
                "a": {"case_key_text": casekey.encode(key_a), "case_id": cid_a},
                "b": {"case_key_text": casekey.encode(key_b), "case_id": cid_b},
            },
            "root_public_hex": hexs(ROOT_PK),
            "manifest_b64": b64encode(MANIFEST_FILE),
            "valid": valid,
            "invalid": invalid,
        },
    )


# ---------------------------------------------------------------- report schema


def parsed_json(value) -> dict | list | str | None:
    """A parsed Report or FollowupUpdate as JSON: dataclasses as objects, tuples as lists, the
    same field names and defaults the JS module returns."""
    return json.loads(json.dumps(dataclasses.asdict(value)))


def expect_refusal(fn, code: str, path: str) -> None:
    """The generator refuses a vector whose refusal the reference does not give."""
    try:
        fn()
    except report.SchemaError as exc:
        assert (exc.code, exc.path) == (code, path), f"got {exc.code} at {exc.path!r}, want {code} at {path!r}"
        return
    raise AssertionError(f"accepted, want {code} at {path!r}")


def full_consent(**changes) -> dict:
    consent = {"use_information": "yes", "use_name": "no", "use_media": "yes", "state_action": "private",
               "sg_report": "anonymised", "referral": {"nhri": "yes", "lawyers": "no", "unhcr": "yes"}}
    return {**consent, **changes}


def full_report() -> dict:
    return {
        "schema": report.SCHEMA, "country": "XK", "place": "Prizren", "date": "2024-02-29",
        "engagement": "cooperated", "un_bodies": ["upr", "special_procedure", "other"],
        "un_body_detail": "UPR 4th cycle; Special Rapporteur on human rights defenders",
        "timing": ["after_returning", "during_session"], "reprisal_types": list(report.REPRISAL_TYPES),
        "perpetrators": ["police", "unknown"], "perpetrator_detail": "Two officers in plain clothes",
        "reporter_role": "witness", "reporter_name": "Amina", "organisation": "Defenders' Network",
        "affected": [{"relation": "colleague", "name": "Li Wei", "detail": "detained since March"},
                     {"relation": "relative"}, {"relation": "organisation", "name": "Women's Centre"}],
        "urgency": ["detained", "upcoming_date"], "upcoming_date": "2026-12-01",
        "urgency_detail": "Court hearing", "gender": "non-binary", "groups": ["whrd", "lgbti"],
        "remedies": "not_possible", "remedies_outcome": "No court would take it.",
        "text": "Après la session, on m'a menacé.\n我在会议后受到威胁。 😀 \"quoted\" \\",
        "consent": full_consent(),
    }


def minimal(**fields) -> dict:
    return {"schema": report.SCHEMA, "country": "FR", **fields}


def without(value: dict, key: str) -> dict:
    return {k: v for k, v in value.items() if k != key}


ASTRAL = "😀"  # one code point, two UTF-16 units
DECOMPOSED = "e\u0301"  # one character on screen, two code points


def report_valid() -> list[dict]:
    cases = [
        ("minimal", minimal()),
        ("every field", full_report()),
        ("every field, keys in another order", dict(reversed(list(full_report().items())))),
        ("intermediary with victim consent", minimal(reporter_role="intermediary", consent=full_consent(),
                                                     victim_consent={"use_information": "no", "referral": {}})),
        ("intermediary without victim consent", minimal(reporter_role="intermediary")),
        ("empty consent: nothing answered", minimal(consent={})),
        ("empty referral", minimal(consent={"referral": {}})),
        ("every referral kind", minimal(consent={"referral": {k: "yes" for k in report.REFERRAL_KINDS}})),
        ("first country", minimal(country="AD")),
        ("last country", minimal(country="ZW")),
        ("empty lists and text", minimal(place="", un_bodies=[], timing=[], affected=[], text="", groups=[])),
        ("astral text at the limits (UTF-16 twice as long)",
         minimal(place=ASTRAL * report.SHORT, un_body_detail=ASTRAL * report.MEDIUM,
                 remedies_outcome=ASTRAL * report.LONG, affected=[{"relation": "self", "name": ASTRAL * report.SHORT}])),
        ("decomposed accents at the limit", minimal(gender=DECOMPOSED * (report.SHORT // 2))),
        ("account at the limit", minimal(text="a" * (report.ACCOUNT - 1) + ASTRAL)),
        (f"{report.MAX_AFFECTED} people affected",
         minimal(affected=[{"relation": report.RELATIONS[i % 5], "name": f"P{i}"} for i in range(report.MAX_AFFECTED)])),
        ("year only", minimal(date="1945")),
        ("year and month", minimal(date="2024-12")),
        ("29 February 2000", minimal(date="2000-02-29")),
        ("31 December", minimal(date="2023-12-31")),
        ("a future upcoming date", minimal(upcoming_date="2099-01-31")),
        ("every value of every list", minimal(un_bodies=list(report.UN_BODIES), timing=list(report.TIMINGS),
                                              perpetrators=list(report.PERPETRATORS), urgency=list(report.URGENCIES),
                                              groups=list(report.GROUPS))),
        ("text with controls and U+2028", minimal(text="a\x00b\u2028c\td\r\n")),
    ]
    out = []
    # Every country is accepted if the taxonomy section matches: the lists are the check.
    return [{"label": label, "value": value, "expect": parsed_json(report.parse_report(value))} for label, value in cases]


def report_invalid() -> list[dict]:
    S = report.SHORT
    cases = [
        # the whole value
        ("a list", [], "bad_report", ""),
        ("a string", "report", "bad_report", ""),
        ("null", None, "bad_report", ""),
        ("a number", 2, "bad_report", ""),
        ("true", True, "bad_report", ""),
        ("empty object: schema required first", {}, "bad_report", "schema"),
        ("schema missing", {"country": "FR"}, "bad_report", "schema"),
        ("country missing", {"schema": report.SCHEMA}, "bad_report", "country"),
        # the schema, looked at before anything else
        ("schema version 1", minimal(schema="quietline.report/1"), "unsupported_version", "schema"),
        ("schema version 3", minimal(schema="quietline.report/3"), "unsupported_version", "schema"),
        ("schema with a trailing space", minimal(schema=report.SCHEMA + " "), "unsupported_version", "schema"),
        ("schema a number", minimal(schema=2), "unsupported_version", "schema"),
        ("schema null", minimal(schema=None), "unsupported_version", "schema"),
        ("schema wrong before an unknown key", {"schema": "x", "country": 1, "aaa": 1}, "unsupported_version", "schema"),
        ("schema wrong, country missing", {"schema": "quietline.report/1"}, "unsupported_version", "schema"),
        # unknown keys, in code point order, before any field
        ("unknown key", minimal(extra=1), "bad_report", "extra"),
        ("key __proto__", minimal(__proto__={}), "bad_report", "__proto__"),
        ("key constructor", minimal(constructor="x"), "bad_report", "constructor"),
        ("key hasOwnProperty", minimal(hasOwnProperty=True), "bad_report", "hasOwnProperty"),
        ("key toString", minimal(toString="FR"), "bad_report", "toString"),
        ("key Schema (case)", minimal(Schema=report.SCHEMA), "bad_report", "Schema"),
        ("key v", minimal(v=1), "bad_report", "v"),
        ("unknown keys sorted: b before z", minimal(z=1, b=1), "bad_report", "b"),
        ("unknown keys sorted by code point, not UTF-16", minimal(**{ASTRAL: 1, "\uff5e": 1}), "bad_report", "\uff5e"),
        ("unknown key before a bad field", minimal(country="fr", zzz=1), "bad_report", "zzz"),
        ("unknown key, schema missing", {"country": "FR", "x": 1}, "bad_report", "x"),
        # fields in table order
        ("place before date", minimal(place=1, date="x"), "bad_report", "place"),
        ("country before place", minimal(country="XX", place=1), "bad_report", "country"),
        ("country lower case", minimal(country="fr"), "bad_report", "country"),
        ("country unassigned", minimal(country="XX"), "bad_report", "country"),
        ("country alpha-3", minimal(country="FRA"), "bad_report", "country"),
        ("country a number", minimal(country=250), "bad_report", "country"),
        ("country null", minimal(country=None), "bad_report", "country"),
        ("country constructor", minimal(country="constructor"), "bad_report", "country"),
        ("place a number", minimal(place=5), "bad_report", "place"),
        ("place null", minimal(place=None), "bad_report", "place"),
        ("place a list", minimal(place=["Paris"]), "bad_report", "place"),
        ("place 201 characters", minimal(place="a" * (S + 1)), "bad_report", "place"),
        ("place 201 astral characters", minimal(place=ASTRAL * (S + 1)), "bad_report", "place"),
        ("place 199 astral + 2 (201 code points)", minimal(place=ASTRAL * (S - 1) + "ab"), "bad_report", "place"),
        ("place 101 decomposed accents (202 code points, 101 on screen)",
         minimal(place=DECOMPOSED * (S // 2 + 1)), "bad_report", "place"),
        ("date 2023-02-29", minimal(date="2023-02-29"), "bad_report", "date"),
        ("date 2100-02-29", minimal(date="2100-02-29"), "bad_report", "date"),
        ("date 1900", minimal(date="1900"), "bad_report", "date"),
        ("date 1944-12-31", minimal(date="1944-12-31"), "bad_report", "date"),
        ("date 2024-13", minimal(date="2024-13"), "bad_report", "date"),
        ("date 2024-00", minimal(date="2024-00"), "bad_report", "date"),
        ("date 2024-01-00", minimal(date="2024-01-00"), "bad_report", "date"),
        ("date 2024-04-31", minimal(date="2024-04-31"), "bad_report", "date"),
        ("date 2024-01-32", minimal(date="2024-01-32"), "bad_report", "date"),
        ("date 2024-1", minimal(date="2024-1"), "bad_report", "date"),
        ("date 2024-01-1", minimal(date="2024-01-1"), "bad_report", "date"),
        ("date 24", minimal(date="24"), "bad_report", "date"),
        ("date 12024", minimal(date="12024"), "bad_report", "date"),
        ("date with slashes", minimal(date="2024/01/01"), "bad_report", "date"),
        ("date with a time", minimal(date="2024-01-01T10:00"), "bad_report", "date"),
        ("date with a newline", minimal(date="2024\n"), "bad_report", "date"),
        ("date with a leading space", minimal(date=" 2024"), "bad_report", "date"),
        ("date in full-width digits", minimal(date="２０２４"), "bad_report", "date"),
        ("date in Arabic-Indic digits", minimal(date="٢٠٢٤"), "bad_report", "date"),
        ("date a number", minimal(date=2024), "bad_report", "date"),
        ("date empty", minimal(date=""), "bad_report", "date"),
        ("engagement unknown", minimal(engagement="yes"), "bad_report", "engagement"),
        ("engagement null", minimal(engagement=None), "bad_report", "engagement"),
        ("un_bodies a string", minimal(un_bodies="upr"), "bad_report", "un_bodies"),
        ("un_bodies an object", minimal(un_bodies={"0": "upr"}), "bad_report", "un_bodies"),
        ("un_bodies twice", minimal(un_bodies=["upr", "treaty_body", "upr"]), "bad_report", "un_bodies.2"),
        ("un_bodies unknown", minimal(un_bodies=["upr", "world_bank"]), "bad_report", "un_bodies.1"),
        ("un_bodies a number", minimal(un_bodies=[1]), "bad_report", "un_bodies.0"),
        ("un_bodies null item", minimal(un_bodies=[None]), "bad_report", "un_bodies.0"),
        ("un_bodies nested list", minimal(un_bodies=[["upr"]]), "bad_report", "un_bodies.0"),
        ("un_body_detail 1001", minimal(un_body_detail="a" * 1001), "bad_report", "un_body_detail"),
        ("timing unknown", minimal(timing=["during"]), "bad_report", "timing.0"),
        ("timing null", minimal(timing=None), "bad_report", "timing"),
        ("reprisal_types unknown", minimal(reprisal_types=["killing", "Killing"]), "bad_report", "reprisal_types.1"),
        ("reprisal_types twice", minimal(reprisal_types=["raid", "raid"]), "bad_report", "reprisal_types.1"),
        ("perpetrators unknown", minimal(perpetrators=["state"]), "bad_report", "perpetrators.0"),
        ("perpetrator_detail a number", minimal(perpetrator_detail=0), "bad_report", "perpetrator_detail"),
        ("perpetrator_detail 1001", minimal(perpetrator_detail=ASTRAL * 1001), "bad_report", "perpetrator_detail"),
        ("reporter_role unknown", minimal(reporter_role="friend"), "bad_report", "reporter_role"),
        ("reporter_role a list", minimal(reporter_role=["victim"]), "bad_report", "reporter_role"),
        ("reporter_name 201", minimal(reporter_name="n" * 201), "bad_report", "reporter_name"),
        ("organisation a number", minimal(organisation=5), "bad_report", "organisation"),
        ("affected an object", minimal(affected={"relation": "self"}), "bad_report", "affected"),
        ("affected 51 people", minimal(affected=[{"relation": "self"}] * 51), "bad_report", "affected"),
        ("affected 51 bad people: the count first", minimal(affected=["x"] * 51), "bad_report", "affected"),
        ("affected item a string", minimal(affected=["self"]), "bad_report", "affected.0"),
        ("affected item null", minimal(affected=[None]), "bad_report", "affected.0"),
        ("affected relation missing", minimal(affected=[{"name": "A"}]), "bad_report", "affected.0.relation"),
        ("affected relation unknown", minimal(affected=[{"relation": "friend"}]), "bad_report", "affected.0.relation"),
        ("affected second item bad", minimal(affected=[{"relation": "self"}, {"relation": 1}]), "bad_report", "affected.1.relation"),
        ("affected name 201", minimal(affected=[{"relation": "self", "name": "a" * 201}]), "bad_report", "affected.0.name"),
        ("affected detail 1001", minimal(affected=[{"relation": "self", "detail": "a" * 1001}]), "bad_report", "affected.0.detail"),
        ("affected unknown key", minimal(affected=[{"relation": "self", "age": 30}]), "bad_report", "affected.0.age"),
        ("affected key __proto__", minimal(affected=[{"relation": "self", "__proto__": {"relation": "x"}}]),
         "bad_report", "affected.0.__proto__"),
        ("affected unknown key before missing relation", minimal(affected=[{"age": 30}]), "bad_report", "affected.0.age"),
        ("urgency unknown", minimal(urgency=["urgent"]), "bad_report", "urgency.0"),
        ("urgency twice", minimal(urgency=["missing", "detained", "missing"]), "bad_report", "urgency.2"),
        ("upcoming_date partial", minimal(upcoming_date="2026-12"), "bad_report", "upcoming_date"),
        ("upcoming_date year only", minimal(upcoming_date="2026"), "bad_report", "upcoming_date"),
        ("upcoming_date 2026-02-30", minimal(upcoming_date="2026-02-30"), "bad_report", "upcoming_date"),
        ("urgency_detail 1001", minimal(urgency_detail="a" * 1001), "bad_report", "urgency_detail"),
        ("gender a list", minimal(gender=["female"]), "bad_report", "gender"),
        ("gender 201", minimal(gender="g" * 201), "bad_report", "gender"),
        ("groups unknown", minimal(groups=["women"]), "bad_report", "groups.0"),
        ("remedies unknown", minimal(remedies="maybe"), "bad_report", "remedies"),
        ("remedies true", minimal(remedies=True), "bad_report", "remedies"),
        ("remedies_outcome 5001", minimal(remedies_outcome="a" * 5001), "bad_report", "remedies_outcome"),
        ("text a number", minimal(text=1), "bad_report", "text"),
        ("text 100001", minimal(text="a" * (report.ACCOUNT + 1)), "bad_report", "text"),
        # consent
        ("consent a list", minimal(consent=[]), "bad_report", "consent"),
        ("consent a string", minimal(consent="yes"), "bad_report", "consent"),
        ("consent null", minimal(consent=None), "bad_report", "consent"),
        ("consent unknown question", minimal(consent={"use_photos": "yes"}), "bad_report", "consent.use_photos"),
        ("consent key __proto__", minimal(consent={"__proto__": {"use_name": "yes"}}), "bad_report", "consent.__proto__"),
        ("consent use_information oui", minimal(consent={"use_information": "oui"}), "bad_report", "consent.use_information"),
        ("consent use_information true", minimal(consent={"use_information": True}), "bad_report", "consent.use_information"),
        ("consent use_name maybe", minimal(consent={"use_name": "maybe"}), "bad_report", "consent.use_name"),
        ("consent use_media null", minimal(consent={"use_media": None}), "bad_report", "consent.use_media"),
        ("consent state_action yes", minimal(consent={"state_action": "yes"}), "bad_report", "consent.state_action"),
        ("consent sg_report anonymous", minimal(consent={"sg_report": "anonymous"}), "bad_report", "consent.sg_report"),
        ("consent questions in order", minimal(consent={"sg_report": 1, "use_name": 1}), "bad_report", "consent.use_name"),
        ("referral a list", minimal(consent={"referral": ["nhri"]}), "bad_report", "consent.referral"),
        ("referral unknown kind", minimal(consent={"referral": {"police": "yes"}}), "bad_report", "consent.referral.police"),
        ("referral nhri maybe", minimal(consent={"referral": {"nhri": "maybe"}}), "bad_report", "consent.referral.nhri"),
        ("referral key constructor", minimal(consent={"referral": {"constructor": "yes"}}), "bad_report",
         "consent.referral.constructor"),
        ("referral kinds in order", minimal(consent={"referral": {"lawyers": 1, "nhri": 1}}), "bad_report",
         "consent.referral.nhri"),
        # victim consent
        ("victim_consent without a reporter role", minimal(victim_consent={}), "bad_report", "victim_consent"),
        ("victim_consent from a victim", minimal(reporter_role="victim", victim_consent={"use_name": "yes"}),
         "bad_report", "victim_consent"),
        ("victim_consent from a witness", minimal(reporter_role="witness", victim_consent={}), "bad_report", "victim_consent"),
        ("victim_consent bad, from an intermediary", minimal(reporter_role="intermediary", victim_consent={"use_name": "x"}),
         "bad_report", "victim_consent.use_name"),
        ("victim_consent bad, no role: the field first", minimal(victim_consent={"referral": {"nhri": 1}}),
         "bad_report", "victim_consent.referral.nhri"),
        ("victim_consent a list, from an intermediary", minimal(reporter_role="intermediary", victim_consent=[]),
         "bad_report", "victim_consent"),
    ]
    out = []
    for label, value, code, path in cases:
        expect_refusal(lambda: report.parse_report(value), code, path)
        out.append({"label": label, "value": value, "code": code, "path": path})
    return out


def followup(**fields) -> dict:
    return {"text": "", **fields}


def followup_valid() -> list[dict]:
    body = {"v": 1, "kind": "followup", "case_id": "ab" * 16, "id": "cd" * 16, "day": DAY,
            "text": "Une nouvelle menace.", "attachments": []}
    cases = [
        ("text only", followup()),
        ("a whole follow-up body", body),
        ("consent changes", {**body, "consent": {"use_name": "yes", "referral": {"ngos": "no"}}}),
        ("victim consent changes", {**body, "victim_consent": {"sg_report": "none"}}),
        ("empty consent: no change", followup(consent={})),
        ("withdraw", {**body, "withdraw": True}),
        ("withdraw with consent", followup(withdraw=True, consent=full_consent(), victim_consent=full_consent())),
        ("text at the limit", followup(text=ASTRAL + "a" * (report.ACCOUNT - 1))),
        ("unchecked envelope fields hold anything", {"v": "x", "kind": None, "case_id": 1, "id": [], "day": {},
                                                    "attachments": "none", "text": "t"}),
    ]
    return [{"label": label, "body": b, "expect": parsed_json(report.parse_followup_update(b))} for label, b in cases]


def followup_invalid() -> list[dict]:
    cases = [
        ("a list", [], ""),
        ("null", None, ""),
        ("a string", "text", ""),
        ("text missing", {}, "text"),
        ("text missing, withdraw", {"withdraw": True}, "text"),
        ("text a number", followup(text=1), "text"),
        ("text null", followup(text=None), "text"),
        ("text 100001", followup(text="a" * (report.ACCOUNT + 1)), "text"),
        ("unknown key", followup(report={}), "report"),
        ("unknown key before missing text", {"lang": "fr"}, "lang"),
        ("key __proto__", followup(__proto__={"withdraw": True}), "__proto__"),
        ("key constructor", followup(constructor=1), "constructor"),
        ("unknown keys by code point", followup(**{ASTRAL: 1, "\uff5e": 1}), "\uff5e"),
        ("withdraw false", followup(withdraw=False), "withdraw"),
        ("withdraw text", followup(withdraw="true"), "withdraw"),
        ("withdraw 1", followup(withdraw=1), "withdraw"),
        ("withdraw null", followup(withdraw=None), "withdraw"),
        ("consent a list", followup(consent=[]), "consent"),
        ("consent null", followup(consent=None), "consent"),
        ("consent unknown question", followup(consent={"use_photos": "no"}), "consent.use_photos"),
        ("consent use_name maybe", followup(consent={"use_name": "maybe"}), "consent.use_name"),
        ("consent referral unknown kind", followup(consent={"referral": {"police": "no"}}), "consent.referral.police"),
        ("victim_consent referral bad", followup(victim_consent={"referral": {"unhcr": True}}), "victim_consent.referral.unhcr"),
        ("text before consent", followup(text=1, consent=[]), "text"),
        ("consent before withdraw", followup(consent=[], withdraw=False), "consent"),
    ]
    out = []
    for label, body, path in cases:
        expect_refusal(lambda: report.parse_followup_update(body), "bad_followup", path)
        out.append({"label": label, "body": body, "code": "bad_followup", "path": path})
    return out


def gen_report() -> None:
    names = ("COUNTRIES", "ENGAGEMENTS", "UN_BODIES", "TIMINGS", "REPRISAL_TYPES", "PERPETRATORS", "RELATIONS",
             "REPORTER_ROLES", "URGENCIES", "GROUPS", "REMEDIES", "YES_NO", "STATE_ACTIONS", "SG_REPORT",
             "REFERRAL_KINDS")
    write(
        "report.json",
        {
            "about": "The report schema (crypto/report.py, client_web/js/report_schema.js): each implementation's "
            "constants equal `taxonomy` and `constants`; `valid` reports parse to `expect` (Python's dataclass "
            "fields as JSON); `invalid` ones are refused with `code` at `path` (\"\" for the whole value); "
            "`followup_*` the same for parse_followup_update.",
            "taxonomy": [{"name": n, "values": list(getattr(report, n))} for n in names],
            "constants": [{"name": n, "value": getattr(report, n)}
                          for n in ("SCHEMA", "MAX_AFFECTED", "SHORT", "MEDIUM", "LONG", "ACCOUNT")],
            "valid": report_valid(),
            "invalid": report_invalid(),
            "followup_valid": followup_valid(),
            "followup_invalid": followup_invalid(),
        },
    )


# ---------------------------------------------------------------- proof of work


def gen_pow() -> None:
    """pow.json: challenges, bindings, work hashes and first solutions (crypto/pow.py).
    Fully deterministic (the key and the random parts come from fixed seeds). Written alone
    (`generate.py pow`)."""
    from crypto import pow as pw
    from crypto import upload

    key = det("pow/key", 32)
    other_key = det("pow/other-key", 32)
    case_a = kdf.case_id(kdf.derive_case_keys(case_key("pow/a")).lookup)
    case_b = kdf.case_id(kdf.derive_case_keys(case_key("pow/b")).lookup)
    resume_a = det("pow/resume-a", 32)

    def chal(purpose: int, difficulty: int, expires: int = 29_000_000, label: str = "c") -> bytes:
        return pw.make_challenge(key, purpose, difficulty, expires, det(f"pow/random/{label}", 16))

    challenges = []
    for label, purpose, difficulty, expires in [
        ("report, 0 bits", pw.REPORT, 0, 29_000_000), ("report, 18 bits", pw.REPORT, 18, 29_000_000),
        ("follow-up, 12 bits", pw.FOLLOWUP, 12, 29_123_456), ("upload, 64 bits", pw.UPLOAD, 64, 0),
        ("expires at the largest minute", pw.REPORT, 1, 2**32 - 1),
    ]:
        raw = chal(purpose, difficulty, expires, label)
        parsed = pw.open_challenge(key, raw)
        assert (parsed.purpose, parsed.difficulty, parsed.expires) == (purpose, difficulty, expires)
        challenges.append({"label": label, "key_hex": hexs(key), "purpose": purpose, "difficulty": difficulty,
                           "expires": expires, "random_hex": hexs(parsed.random), "challenge_hex": hexs(raw)})

    good = chal(pw.REPORT, 8, label="good")

    def with_byte(offset: int, value: int) -> bytes:
        data = bytearray(good)
        data[offset] = value
        return bytes(data)

    challenge_errors = []
    for label, data in [
        ("empty", b""), ("one byte short", good[:-1]), ("one byte long", good + b"\0"), ("other magic", with_byte(0, 0x52)),
        ("version 0", with_byte(4, 0)), ("version 2", with_byte(4, 2)), ("purpose 0", with_byte(5, 0)),
        ("purpose 4", with_byte(5, 4)), ("difficulty 65", with_byte(6, 65)), ("difficulty 255", with_byte(6, 255)),
    ]:
        challenge_errors.append({"label": label, "challenge_hex": hexs(data), "code": code_of(lambda d=data: pw.parse_challenge(d))})

    # Well formed, but not this key's: only the server (which holds the key) can tell.
    mac_errors = []
    for label, data, k in [
        ("MAC's last byte changed", good[:-1] + bytes([good[-1] ^ 1]), key),
        ("difficulty lowered, MAC kept", with_byte(6, 7), key),
        ("purpose changed, MAC kept", with_byte(5, pw.FOLLOWUP), key),
        ("expiry moved, MAC kept", with_byte(10, good[10] ^ 1), key),
        ("random changed, MAC kept", with_byte(11, good[11] ^ 0x80), key),
        ("made by another key", good, other_key),
    ]:
        pw.parse_challenge(data)
        mac_errors.append({"label": label, "challenge_hex": hexs(data), "key_hex": hexs(k),
                           "code": code_of(lambda d=data, k=k: pw.open_challenge(k, d))})

    envelope_bytes = pattern(1000)
    bindings = [
        {"label": "report", "purpose": pw.REPORT, "case_id": case_a, "binding_hex": hexs(pw.report_binding(case_a))},
        {"label": "report, other case", "purpose": pw.REPORT, "case_id": case_b,
         "binding_hex": hexs(pw.report_binding(case_b))},
        {"label": "follow-up", "purpose": pw.FOLLOWUP, "case_id": case_a, "envelope_size": 1000,
         "binding_hex": hexs(pw.followup_binding(case_a, envelope_bytes))},
        {"label": "follow-up, empty envelope", "purpose": pw.FOLLOWUP, "case_id": case_b, "envelope_size": 0,
         "binding_hex": hexs(pw.followup_binding(case_b, b""))},
        {"label": "upload", "purpose": pw.UPLOAD, "resume_hex": hexs(resume_a),
         "binding_hex": hexs(pw.upload_binding(resume_a))},
    ]
    assert bindings[4]["binding_hex"] == upload.resume_index(resume_a)

    binding_errors = []
    for label, purpose, binding in [
        ("report bound to 15 bytes", pw.REPORT, bytes(15)), ("report bound to a follow-up's 48", pw.REPORT, bytes(48)),
        ("follow-up bound to a case id only", pw.FOLLOWUP, bytes(16)), ("upload bound to nothing", pw.UPLOAD, b""),
    ]:
        c = chal(purpose, 4, label="binding-errors")
        binding_errors.append({"label": label, "challenge_hex": hexs(c), "binding_hex": hexs(binding),
                               "code": code_of(lambda c=c, b=binding: pw.work_hash(c, b, 0))})

    report_c = chal(pw.REPORT, 8, label="work")
    report_b = pw.report_binding(case_a)
    work = []
    for nonce in [0, 1, 255, 256, 65535, 2**24, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**40 + 3,
                  0x0123456789ABCD, 2**53 - 1]:
        digest = pw.work_hash(report_c, report_b, nonce)
        work.append({"label": f"n = {nonce}", "challenge_hex": hexs(report_c), "binding_hex": hexs(report_b),
                     "nonce": nonce, "nonce_le64_hex": hexs(pw.nonce_bytes(nonce)), "work_hex": hexs(digest),
                     "zero_bits": pw.leading_zero_bits(digest)})

    solutions = []
    for label, purpose, difficulty, binding in [
        ("report, 0 bits: the first counter", pw.REPORT, 0, report_b),
        ("report, 1 bit", pw.REPORT, 1, report_b), ("report, 5 bits", pw.REPORT, 5, report_b),
        ("report, 8 bits", pw.REPORT, 8, report_b), ("report, 8 bits, other case", pw.REPORT, 8, pw.report_binding(case_b)),
        ("follow-up, 11 bits", pw.FOLLOWUP, 11, pw.followup_binding(case_a, envelope_bytes)),
        ("upload, 13 bits", pw.UPLOAD, 13, pw.upload_binding(resume_a)),
        ("report, 16 bits", pw.REPORT, 16, report_b),
    ]:
        c = chal(purpose, difficulty, label=f"solution/{label}")
        first = pw.solve(c, binding)
        following = pw.solve(c, binding, first + 1)
        assert first == 0 or not pw.is_solution(c, binding, first - 1)
        solutions.append({"label": label, "challenge_hex": hexs(c), "binding_hex": hexs(binding), "difficulty": difficulty,
                          "first_nonce": first, "next_nonce": following,
                          "work_hex": hexs(pw.work_hash(c, binding, first))})
    # The same work, bound to another case, is no proof there.
    s = solutions[3]
    other = pw.report_binding(case_b)
    assert not pw.is_solution(bytes.fromhex(s["challenge_hex"]), other, s["first_nonce"])

    nonce_errors = []
    for label, value in [("-1", -1), ("2^53", 2**53), ("2^64 - 1", 2**64 - 1), ("1.5", 1.5), ("a string", "1"),
                         ("true", True), ("null", None)]:
        nonce_errors.append({"label": label, "nonce": value, "code": code_of(lambda v=value: pw.nonce_bytes(v))})

    zero_bits = []
    for label, digest in [("all zero", bytes(32)), ("first bit set", b"\x80" + bytes(31)),
                          ("7 zero bits", b"\x01" + bytes(31)), ("8 zero bits", b"\x00\xff" + bytes(30)),
                          ("17 zero bits", b"\x00\x00\x40" + bytes(29)), ("255 zero bits", bytes(31) + b"\x01"),
                          ("no zero bit", b"\xff" * 32)]:
        zero_bits.append({"label": label, "digest_hex": hexs(digest), "bits": pw.leading_zero_bits(digest)})

    write(
        "pow.json",
        {
            "about": "Proof of work (crypto/pow.py, docs/PROTOCOL.md 'Proof of work'). 'challenges' were made with "
            "key_hex and parse to their fields; their last 32 bytes are BLAKE2b-32 of the first 27 under the key. "
            "'challenge_errors' are refused by the parser; 'mac_errors' parse but fail the MAC under key_hex. "
            "'bindings': follow-up envelopes are the pattern byte[i] = (31*i + 7) mod 256 of envelope_size bytes. "
            "'work': BLAKE2b-32(challenge || binding || LE64(nonce)) and its leading zero bits. 'solutions': the "
            "smallest counter from 0 that meets the challenge's difficulty, and the smallest after it.",
            "challenges": challenges,
            "challenge_errors": challenge_errors,
            "mac_errors": mac_errors,
            "bindings": bindings,
            "binding_errors": binding_errors,
            "work": work,
            "solutions": solutions,
            "nonce_errors": nonce_errors,
            "zero_bits": zero_bits,
        },
    )


# ---------------------------------------------------------------- reply notices


def gen_reply_notices() -> None:
    """Add the `notice` sections to reply.json, leaving every other entry as it is (rewriting
    them would only churn their random ciphertexts)."""
    path = OUT / "reply.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    key_a = case_key("reply/a")
    a = kdf.derive_case_keys(key_a)
    cid = kdf.case_id(a.lookup)
    # The same case and manifest as the sections already there, so the runners open them alike.
    assert data["cases"]["a"] == {"case_key_text": casekey.encode(key_a), "case_id": cid}
    assert data["manifest_b64"] == b64encode(MANIFEST_FILE) and data["root_public_hex"] == hexs(ROOT_PK)
    d1 = DESKS[0]

    def open_a(blob: bytes) -> reply.Reply:
        return reply.open_reply(blob, MANIFEST, a.reply_public, a.reply_secret, cid)

    def signed(body: dict) -> bytes:
        body_bytes = json_bytes(body)
        return raw_reply(d1.public.key_id, padding.pad_message(signing.sign("reply", body_bytes, d1.sign_secret) + body_bytes),
                         a.reply_public)

    def expect(r: reply.Reply) -> dict:
        return {"case_id": r.case_id, "seq": r.seq, "status": r.status, "text": r.text, "day": r.day, "desk": r.desk,
                "notice": r.notice}

    made = [
        reply.Reply(cid, 4, "assessing", "", DAY, "desk-1", "still_open"),
        reply.Reply(cid, 5, "awaiting_state_reply", "Nous attendons toujours la réponse de l'État.", "2027-02-01",
                    "desk-1", "still_open"),
        reply.Reply(cid, 6, "received", "No notice.", DAY, "desk-1"),
    ]
    valid = []
    for r in made:
        blob = reply.seal_reply(r, d1.public, d1.sign_secret, a.reply_public)
        assert open_a(blob) == r
        valid.append({"label": f"notice {r.notice}", "blob_b64": b64encode(blob), "case": "a", "expect": expect(r)})
    base = made[0].body()
    # Python's body.get reads an explicit null as no notice; the browser must agree.
    blob = signed({**base, "notice": None})
    valid.append({"label": "notice null, read as absent", "blob_b64": b64encode(blob), "case": "a",
                  "expect": expect(open_a(blob))})
    assert valid[-1]["expect"]["notice"] is None

    invalid = []
    for label, notice in [("closed", "closed"), ("empty", ""), ("upper case", "STILL_OPEN"),
                          ("trailing space", "still_open "), ("a number", 1), ("true", True), ("a list", ["still_open"]),
                          ("an object", {"still_open": True})]:
        blob = signed({**base, "notice": notice})
        invalid.append({"label": f"notice {label}", "blob_b64": b64encode(blob), "case": "a",
                        "code": code_of(lambda: open_a(blob))})
        assert invalid[-1]["code"] == "bad_reply"
    data["notice_valid"], data["notice_invalid"] = valid, invalid
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"reply.json (notice sections): {len(text.encode()) // 1024} KiB")


# ---------------------------------------------------------------- envelope: a recipient twice


def gen_envelope_duplicate() -> None:
    """Add to envelope.json's `invalid` section an envelope naming one recipient twice (made
    from the first valid envelope, its count raised), leaving every other entry as it is."""
    path = OUT / "envelope.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    label = "a recipient named twice"
    data["invalid"] = [v for v in data["invalid"] if v["label"] != label]
    env = base64.b64decode(data["valid"][0]["envelope_b64"])
    n = env[6]
    entries_end = 7 + n * 88
    twice = env[:6] + bytes([n + 1]) + env[7:entries_end] + env[7:7 + 88] + env[entries_end:]
    desk = DESKS[0]
    code = code_of(lambda: envelope.open_envelope(twice, desk.public, desk.box_secret))
    assert code == code_of(lambda: envelope.parse_header(twice)) == "bad_recipients"
    data["invalid"].append({"label": label, "envelope_b64": b64encode(twice), "desk": desk.id, "code": code,
                            "framing": True})
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"envelope.json (duplicate recipient): {len(text.encode()) // 1024} KiB")


# ---------------------------------------------------------------- replies as a lookup serves them


def gen_reply_served() -> None:
    """Add the `served` section to reply.json: lists of (seq served under, blob) as a lookup
    answers, opened with reply.open_replies. Made from the `valid` section's own blobs (and
    one of them with a flipped byte), so nothing else in the file changes."""
    path = OUT / "reply.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    key_a = case_key("reply/a")
    a = kdf.derive_case_keys(key_a)
    cid = kdf.case_id(a.lookup)
    assert data["cases"]["a"] == {"case_key_text": casekey.encode(key_a), "case_id": cid}
    blob = {}  # seq -> the first valid blob of case a with that seq
    for v in data["valid"]:
        if v["case"] == "a":
            blob.setdefault(v["expect"]["seq"], base64.b64decode(v["blob_b64"]))
    one, two, three = blob[1], blob[2], blob[3]
    flipped = bytearray(two)
    flipped[40] ^= 1

    served = []

    def add(label: str, entries: list[tuple[object, bytes]]) -> None:
        outcomes = reply.open_replies(entries, MANIFEST, a.reply_public, a.reply_secret, cid)
        expect = [{"code": o.code} if isinstance(o, ProtocolError) else {"seq": o.seq} for o in outcomes]
        served.append({"label": label, "case": "a", "served": [{"seq": s, "blob_b64": b64encode(b)} for s, b in entries],
                       "expect": expect})

    add("in order", [(1, one), (2, two), (3, three)])
    add("served in another order, each under its own seq", [(3, three), (1, one), (2, two)])
    add("an old reply again under a later seq", [(1, one), (2, one)])
    add("two replies swapped", [(1, two), (2, one)])
    add("one reply served twice under its seq", [(1, one), (1, one)])
    add("served under seq 0", [(0, one)])
    add("served under a seq that is true", [(True, one)])
    add("served under a seq that is text", [("1", one)])
    add("a damaged reply keeps its own code, the rest open", [(1, one), (2, bytes(flipped)), (3, three)])
    add("a damaged copy does not count as opened", [(2, bytes(flipped)), (2, two)])
    assert [e["expect"] for e in served[2:5]] == [
        [{"seq": 1}, {"code": "reply_replayed"}],
        [{"code": "reply_replayed"}, {"code": "reply_replayed"}],
        [{"seq": 1}, {"code": "reply_replayed"}],
    ]
    data["served"] = served
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"reply.json (served section): {len(text.encode()) // 1024} KiB")


def main() -> None:
    assert unicodedata.normalize("NFKC", "Ａ") == "A"
    gen_encoding()
    gen_casekey()
    gen_kdf()
    gen_padding()
    gen_signing()
    gen_manifest()
    gen_envelope()
    gen_envelope_duplicate()
    gen_attachment()
    gen_upload()
    gen_reply()
    gen_reply_notices()
    gen_reply_served()
    gen_report()
    gen_pow()


# Files that can be (re)written alone, without re-randomising every other file's ciphertexts.
ONLY = {"envelope_duplicate": gen_envelope_duplicate, "report": gen_report, "reply_notices": gen_reply_notices, "reply_served": gen_reply_served, "upload": gen_upload, "pow": gen_pow}

if __name__ == "__main__":
    if sys.argv[1:]:
        for name in sys.argv[1:]:
            if name not in ONLY:
                sys.exit(f"usage: generate.py [{' | '.join(ONLY)} …]  (no argument: every file)")
            ONLY[name]()
    else:
        main()
