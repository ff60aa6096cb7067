"""The honest-but-curious server: many full flows in real Chromium, then everything the server
holds and logged, and everything the browser sent, is searched for what it must never learn.

Six reports, one in each of the six languages, fill every text field of the form with a
unique canary (Latin, Arabic, Chinese, Cyrillic, accented); four carry attachments (a JPEG
and a PNG photo, a 5-chunk text file, a UTF-16 file) whose names and contents are canaries
too. The workstation imports them and replies (canaries again) to four cases; the submitters
read the replies in the browser; two send follow-ups with text and a file; one withdraws
with the case view's button. The workstation imports the rest and acknowledges it.

At three moments (everything filed; follow-ups and withdrawal waiting; all acknowledged)
the test searches the database file with its -wal and -shm, a dump of every row of every
table, every file in the server's var folder and blob store (file names too), and the
server's whole stdout/stderr for each canary (UTF-8, UTF-16-LE, JSON- and URL-escaped, and
base64 at every alignment), each case key (as shown, without dashes, lower case, its 16
bytes raw, hex and base64), each lookup token and upload resume handle (raw, hex, base64:
the server receives them but must not keep them), the loopback address and `localhost`, and
the browser's user agent. It searches every request the browser sent (URL, headers, body)
for the canaries and case keys (lookup tokens only where expected: POST bodies). It checks
the stored rows: each envelope, reply and withdrawal is a padding bucket plus its fixed
overhead (docs/PROTOCOL.md), each upload's chunk count a bucket and each chunk file one
chunk, each date-like column a `YYYY-MM-DD` day and nothing finer anywhere; that the
withdrawn case's `case_id` is in no row of any table; and that no copy of acknowledged
ciphertext, nor of the withdrawn case's id or reply, is left in the database file or its
-wal (SQLite keeps old pages there unless the server truncates it).

Controls keep the search honest: the workstation decrypts the canaries (they were really
typed and sent), the user agent and loopback address were really in the requests the server
received, each case's `case_id` and the first report's exact ciphertext are found where the
server stores them, and the needle builder finds a canary planted in UTF-16 and base64."""

import base64
import io
import json
import re
import secrets
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from crypto import casekey
from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.envelope import AEAD_TAG, ENTRY_BYTES, NONCE_BYTES
from crypto.kdf import case_id as case_id_of
from crypto.kdf import derive_case_keys
from crypto.padding import MESSAGE_BUCKETS, is_chunk_count_bucket
from crypto.reply import SEAL_OVERHEAD

from .conftest import Recorder, watch

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
TAG = secrets.token_hex(4)
USER_AGENT = f"Mozilla/5.0 (X11; Linux x86_64) QuietlineCuriousProbe/{TAG}.7 Chrome/156.0.0.0 Safari/537.36"
UA_TOKEN = f"QuietlineCuriousProbe/{TAG}"
ENVELOPE_OVERHEAD = 7 + NONCE_BYTES + AEAD_TAG  # magic, version, kind, n; nonce; AEAD tag (+ 88 per desk)
REPLY_OVERHEAD = 13 + SEAL_OVERHEAD  # magic, version, desk key id; the sealed box
# Workstation files that `quietline keys dev` puts beside the server's in the same var folder.
WORKSTATION_OWNED = {"vault", "bundles", "sync.json"}
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}[T ]\d")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

# -- canaries -----------------------------------------------------------------------------------

# Each script spells the canary's unique part in its own letters, so an ASCII fragment can
# never be what is found.
ALPHABETS = {
    "ar": ("كناري", "ابتثجحخدذرزسشصضط"),
    "zh": ("金丝雀", "零一二三四五六七八九甲乙丙丁戊己"),
    "ru": ("канарейка", "абвгдежзиклмнопр"),
}
ACCENTED = {"es": "CANARIO-ñ", "fr": "CANARI-é", "en": "CANARY"}


class Canaries:
    def __init__(self) -> None:
        self.labels: dict[str, str] = {}

    def make(self, lang: str, label: str) -> str:
        unique = secrets.token_hex(6)
        if lang in ALPHABETS:
            word, letters = ALPHABETS[lang]
            value = word + "-" + "".join(letters[int(c, 16)] for c in unique)
        else:
            value = f"{ACCENTED[lang]}-{label.upper()}-{unique}"
        self.labels[value] = f"{lang} {label}"
        return value


# -- needles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needle:
    label: str  # what it is ("en place canary", "case key of the ar case")
    form: str  # how it is spelled ("utf-8", "base64 at offset 1")
    data: bytes


def base64_cores(data: bytes) -> list[tuple[str, bytes]]:
    """What any base64 text holding `data` (at any alignment) must contain: for each of the
    three alignments, the encoding of the whole 3-byte groups that lie inside `data`."""
    out = []
    for skip in range(3):
        inner = data[skip:]
        inner = inner[: len(inner) // 3 * 3]
        if len(inner) >= 9:
            core = base64.b64encode(inner)
            out.append((f"base64 at offset {skip}", core))
            urlsafe = core.replace(b"+", b"-").replace(b"/", b"_")
            if urlsafe != core:
                out.append((f"base64url at offset {skip}", urlsafe))
    return out


def text_needles(label: str, value: str) -> list[Needle]:
    forms = [("utf-8", value.encode()), ("utf-16-le", value.encode("utf-16-le"))]
    escaped = json.dumps(value)[1:-1].encode()
    if escaped != value.encode():
        forms.append(("JSON \\u escape", escaped))
    quoted = urllib.parse.quote(value).encode()
    if quoted != value.encode():
        forms.append(("URL escape", quoted))
    forms += base64_cores(value.encode())
    return [Needle(label, form, data) for form, data in forms]


def bytes_needles(label: str, raw: bytes) -> list[Needle]:
    forms = [("raw bytes", raw), ("hex", raw.hex().encode()), ("HEX", raw.hex().upper().encode())]
    forms += base64_cores(raw)
    return [Needle(label, form, data) for form, data in forms]


@dataclass
class Case:
    lang: str
    key_text: str
    ref: str

    @property
    def key(self) -> bytes:
        return casekey.parse(self.key_text)

    @property
    def lookup(self) -> bytes:
        return derive_case_keys(self.key).lookup

    @property
    def case_id(self) -> str:
        return case_id_of(self.lookup)

    def key_needles(self) -> list[Needle]:
        label = f"case key of the {self.lang} case"
        plain = self.key_text.replace("-", "")
        spellings = {self.key_text, plain, self.key_text.lower(), plain.lower()}
        needles = [n for s in sorted(spellings) for n in text_needles(label, s) if not n.form.startswith("base64")]
        return needles + bytes_needles(label, self.key)

    def lookup_needles(self) -> list[Needle]:
        return bytes_needles(f"lookup token of the {self.lang} case", self.lookup)


# -- what the server has ----------------------------------------------------------------------------


@dataclass
class Holding:
    where: str
    data: bytes
    text: bool  # logs, JSON files and text cells: where "::1" would be an address


def server_files(stack) -> list[Path]:
    files = []
    for path in sorted(stack.var_dir.rglob("*")):
        if path.is_file() and path.relative_to(stack.var_dir).parts[0] not in WORKSTATION_OWNED:
            files.append(path)
    return files


def db_dump(stack) -> tuple[dict[str, list[dict]], dict[str, dict[str, str]]]:
    """Every row of every table, as {table: [{column: value}]}, and each table's declared
    column types."""
    db = sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table' order by name")]
        rows, types = {}, {}
        for table in tables:
            info = db.execute(f'pragma table_info("{table}")').fetchall()
            types[table] = {col[1]: (col[2] or "").upper() for col in info}
            cursor = db.execute(f'select * from "{table}"')
            names = [d[0] for d in cursor.description]
            rows[table] = [dict(zip(names, row)) for row in cursor]
        return rows, types
    finally:
        db.close()


def row_name(table: str, row: dict) -> str:
    keys = [c for c in ("case_id", "seq", "upload_id", "chunk_index", "withdrawal_id", "bundle_id") if c in row]
    return f"{table}(" + ", ".join(f"{k}={row[k]}" for k in keys[:2]) + ")"


def holdings(stack) -> list[Holding]:
    """Everything the server has: its files (names and bytes, the database's -wal and -shm
    included), every cell of every table, and its whole stdout/stderr."""
    out = []
    for path in server_files(stack):
        rel = str(path.relative_to(stack.var_dir))
        out.append(Holding(f"the name of file {rel}", rel.encode(), True))
        out.append(Holding(f"file {rel}", path.read_bytes(), path.suffix == ".json"))
    rows, _ = db_dump(stack)
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                if value is None:
                    continue
                data = value if isinstance(value, bytes) else str(value).encode()
                out.append(Holding(f"table {row_name(table, row)}.{column}", data, not isinstance(value, bytes)))
    out.append(Holding("the server's stdout/stderr", stack.server_log(), True))
    return out


def search(places: list[Holding], needles: list[Needle]) -> list[str]:
    found = []
    for place in places:
        for needle in needles:
            at = place.data.find(needle.data)
            if at >= 0:
                context = place.data[max(0, at - 24): at + len(needle.data) + 24]
                found.append(f"{needle.label} ({needle.form}) in {place.where} at byte {at}: {context!r}")
    return found


def describe(found: list[str], limit: int = 40) -> str:
    more = f"\n  ... and {len(found) - limit} more" if len(found) > limit else ""
    return "\n  " + "\n  ".join(found[:limit]) + more


# -- stored rows ----------------------------------------------------------------------------------


def padding_problems(stack, desks: int) -> list[str]:
    """Each stored envelope, reply and withdrawal is a bucket + its fixed overhead; each upload's
    chunk count a bucket; each chunk file exactly one chunk; no other ciphertext of unknown form."""
    rows, _ = db_dump(stack)
    problems = []
    envelope_overhead = ENVELOPE_OVERHEAD + ENTRY_BYTES * desks
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                if not isinstance(value, bytes):
                    continue
                where = f"{row_name(table, row)}.{column} ({len(value)} bytes)"
                if value[:4] == b"QLEN":
                    if value[6] != desks:
                        problems.append(f"{where}: sealed to {value[6]} desks, the manifest has {desks}")
                    if len(value) - envelope_overhead not in MESSAGE_BUCKETS:
                        problems.append(f"{where}: envelope of {len(value)} bytes is not a bucket + {envelope_overhead}")
                elif value[:4] == b"QLRP":
                    if len(value) - REPLY_OVERHEAD not in MESSAGE_BUCKETS:
                        problems.append(f"{where}: reply of {len(value)} bytes is not a bucket + {REPLY_OVERHEAD}")
                elif (table, column) == ("uploads", "stream_header"):
                    if len(value) != 24:
                        problems.append(f"{where}: a secretstream header is 24 bytes")
                else:
                    problems.append(f"{where}: stored bytes of no known padded form: {value[:16]!r}")
    for row in rows.get("uploads", []):
        if not is_chunk_count_bucket(row["chunks"]):
            problems.append(f"{row_name('uploads', row)}.chunks = {row['chunks']} is not a chunk-count bucket")
    for path in stack.blob_dir.rglob("*"):
        if path.is_file() and path.stat().st_size != CHUNK_CIPHERTEXT:
            problems.append(f"blob file {path.relative_to(stack.var_dir)}: {path.stat().st_size} bytes, a chunk is {CHUNK_CIPHERTEXT}")
    return problems


def time_problems(stack) -> list[str]:
    """Date-like columns hold `YYYY-MM-DD` days; nothing anywhere is finer than a day."""
    rows, types = db_dump(stack)
    problems = []
    for table, columns in types.items():
        for column, declared in columns.items():
            if any(word in declared for word in ("TIME", "STAMP")):
                problems.append(f"{table}.{column} is declared {declared}")
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                where = f"{row_name(table, row)}.{column} = {value!r}"
                day_like = types[table][column] == "DATE" or column.endswith("day") or column.endswith("_at")
                if day_like and value is not None and not (isinstance(value, str) and DAY.fullmatch(value)):
                    problems.append(f"{where}: a date-like column holds something other than a YYYY-MM-DD day")
                if isinstance(value, str) and TIME_OF_DAY.search(value):
                    problems.append(f"{where}: looks like a time of day")
                if isinstance(value, float):
                    problems.append(f"{where}: a real number (a Julian day or a timestamp?)")
                if isinstance(value, int) and not isinstance(value, bool):
                    for low, unit in ((10**9, "seconds"), (10**12, "milliseconds"), (10**15, "microseconds"), (10**18, "nanoseconds")):
                        if low <= value < 10 * low:
                            problems.append(f"{where}: could be a Unix time in {unit}")
    return problems


def rows_naming(stack, case_id: str) -> list[str]:
    rows, _ = db_dump(stack)
    needle = case_id.encode()
    return [
        f"{row_name(table, row)}.{column}"
        for table, table_rows in rows.items()
        for row in table_rows
        for column, value in row.items()
        if value is not None and needle in (value if isinstance(value, bytes) else str(value).encode())
    ]


def traces_in_files(stack, needles: list[Needle]) -> list[str]:
    """Bytes of deleted rows still in the server's files: SQLite keeps old copies of pages in
    the -wal file (and, without secure_delete, in free pages) after a row is gone."""
    return search([Holding(f"file {p.relative_to(stack.var_dir)}", p.read_bytes(), False) for p in server_files(stack)], needles)


def middle(data: bytes, size: int = 32) -> bytes:
    return data[len(data) // 2: len(data) // 2 + size]


# -- files ------------------------------------------------------------------------------------------


def jpeg_with(artist: str, comment: str) -> bytes:
    image = Image.new("RGB", (64, 48), (30, 120, 60))
    exif = Image.Exif()
    exif[0x013B] = artist
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif, comment=comment.encode())
    return out.getvalue()


def png_with(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Description", text)
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


# -- the browser ------------------------------------------------------------------------------------


def fill_step(page, step: str, fields: dict) -> None:
    if step == "where":
        page.select_option("#country", fields["country"])
        page.fill("#place", fields["place"])
    elif step == "un":
        page.fill("#un_body_detail", fields["un_body_detail"])
    elif step == "what":
        page.fill("#perpetrator_detail", fields["perpetrator_detail"])
        page.fill("#account", fields["account"])
    elif step == "urgency":
        page.fill("#urgency_detail", fields["urgency_detail"])
    elif step == "who":
        page.fill("#reporter_name", fields["reporter_name"])
        page.fill("#organisation", fields["organisation"])
        page.select_option("#person-1-relation", "relative")
        page.fill("#person-1-name", fields["person_name"])
        page.fill("#person-1-detail", fields["person_detail"])
    elif step == "more":
        page.fill("#gender", fields["gender"])
        page.fill("#remedies_outcome", fields["remedies_outcome"])
    elif step == "evidence" and fields["files"]:
        page.set_input_files("#report-files", files=fields["files"])


def file_report(page, stack, lang: str, fields: dict) -> Case:
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    page.select_option("#language", lang)
    page.wait_for_selector(f"html[lang={lang}]", state="attached")
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    while True:
        step = page.evaluate("() => document.querySelector('#report-form section.step:not([hidden])').dataset.step")
        fill_step(page, step, fields)
        if not page.locator("#step-next-button").is_visible():
            break
        page.click("#step-next-button")
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    if fields["files"]:
        page.wait_for_selector("#key-uploads .upload-status[data-kind=finished]", timeout=120_000)
    case = Case(lang, page.inner_text("#case-key-display").strip(), page.inner_text("#receipt-text").split()[-1].lower())
    page.click("#key-done")
    return case


def open_case(page, stack, case: Case) -> None:
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    page.select_option("#language", case.lang)
    page.wait_for_selector(f"html[lang={case.lang}]", state="attached")
    page.click("#go-return")
    page.wait_for_selector("#view-return .root-fingerprint:not(:empty)")
    page.fill("#case-key-input", case.key_text)
    page.click("#return-form button[type=submit]")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)


def desk_round(stack, tmp_path: Path, name: str, replies: dict[str, str]) -> None:
    """Pull and import an inbound bundle, reply (ref -> text), export and push."""
    inbound, outbound = tmp_path / f"{name}-in.qlb", tmp_path / f"{name}-out.qlb"
    stack.cli("sync", "pull", "--out", str(inbound))
    stack.cli("ws", "import", str(inbound))
    for ref, text in replies.items():
        stack.cli("ws", "reply", ref, "--status", "more_information_needed", "--message", text)
    stack.cli("ws", "export", "--out", str(outbound))
    stack.cli("sync", "push", str(outbound))


def workstation_text(stack, case: Case, tmp_path: Path) -> str:
    """Everything the workstation decrypted of a case, with its files' names and bytes."""
    shown = json.loads(stack.cli("ws", "show", case.ref, "--json").stdout)
    extract = tmp_path / f"extract-{case.lang}"
    stack.cli("ws", "show", case.ref, "--extract", str(extract))
    files = b"".join(p.name.encode() + b"\n" + p.read_bytes() for p in sorted(extract.rglob("*")) if p.is_file())
    return json.dumps(shown, ensure_ascii=False) + "\n" + files.decode("utf-8", "replace") + "\n" + files.decode("utf-16-le", "replace")


# -- the test ---------------------------------------------------------------------------------------


def test_the_server_learns_nothing_from_many_real_flows(chromium, stack, tmp_path):
    # The needle builder finds what it should (a planted canary in each form).
    probe = "金丝雀-probe-" + secrets.token_hex(4)
    planted = [Holding("utf-16", b"xx" + probe.encode("utf-16-le"), False),
               Holding("base64", base64.b64encode(b"{\"a\":\"" + probe.encode() + b"\"}"), False),
               Holding("json", json.dumps({"a": probe}).encode(), True)]
    assert len(search(planted, text_needles("probe", probe))) >= 3, "the needles miss a planted canary"

    canaries = Canaries()
    desks = len(json.loads(base64.b64decode(json.loads((stack.keys_dir / "manifest.json").read_text())["body"]))["desks"])
    context = chromium.new_context(user_agent=USER_AGENT, locale="en-US", viewport=PHONE, accept_downloads=False)
    recorder: Recorder = watch(context)
    page = context.new_page()

    # -- six reports, every text field a canary; four with files ---------------------------------
    countries = {"en": "KE", "ar": "EG", "zh": "CN", "ru": "BY", "es": "CO", "fr": "ML"}
    text_fields = ("place", "un_body_detail", "perpetrator_detail", "account", "urgency_detail", "reporter_name",
                   "organisation", "person_name", "person_detail", "gender", "remedies_outcome")
    forms: dict[str, dict] = {}
    for lang, country in countries.items():
        fields = {f: canaries.make(lang, f) for f in text_fields}
        fields["country"], fields["files"] = country, []
        forms[lang] = fields
    c = canaries.make
    forms["en"]["files"] = [
        {"name": c("en", "photoname") + ".jpg", "mimeType": "image/jpeg", "buffer": jpeg_with(c("en", "exifartist"), c("en", "jpegcomment"))},
        # 40,000 lines: 5 chunks, padded to 6
        {"name": c("en", "filename") + ".txt", "mimeType": "text/plain", "buffer": ((c("en", "filecontent") + "\n") * 40_000).encode()},
    ]
    forms["ar"]["files"] = [{"name": c("ar", "filename") + ".txt", "mimeType": "text/plain", "buffer": (c("ar", "filecontent") + "\n").encode()}]
    forms["zh"]["files"] = [{"name": c("zh", "photoname") + ".png", "mimeType": "image/png", "buffer": png_with(c("zh", "pngtext"))}]
    forms["ru"]["files"] = [{"name": c("ru", "filename") + ".txt", "mimeType": "text/plain",
                             "buffer": b"\xff\xfe" + (c("ru", "utf16content") + "\r\n").encode("utf-16-le")}]
    cases = {lang: file_report(page, stack, lang, fields) for lang, fields in forms.items()}
    assert len({case.case_id for case in cases.values()}) == 6

    def canary_needles() -> list[Needle]:
        return [n for value, label in canaries.labels.items() for n in text_needles(f"{label} canary", value)]

    def secrets_needles() -> list[Needle]:
        """Every canary made so far, the case keys, lookups, and resume handles sent so far."""
        out = canary_needles()
        for case in cases.values():
            out += case.key_needles() + case.lookup_needles()
        for handle in resume_handles():
            out += bytes_needles("an upload's resume handle", handle)
        return out

    def resume_handles() -> set[bytes]:
        handles = set()
        for r in recorder.requests:
            if r["method"] == "POST" and r["url"].endswith(("/api/v1/uploads", "/api/v1/uploads/resume")):
                handles.add(base64.b64decode(json.loads(r["body"])["resume"]))
        return handles

    loopback = [Needle("the loopback address", "ascii", b"127.0.0.1"), Needle("localhost", "ascii", b"localhost")]
    loopback += text_needles("the browser's user agent", USER_AGENT) + text_needles("the user agent's own token", UA_TOKEN)
    text_only = [Needle("the IPv6 loopback address", "ascii", b"::1")]

    def check_server(moment: str) -> None:
        places = holdings(stack)
        assert any(p.where == "file quietline.db" for p in places), [p.where for p in places]
        assert any(p.where == "file quietline.db-wal" for p in places), f"{moment}: no -wal file to search: {[p.where for p in places]}"
        found = search(places, secrets_needles() + loopback) + search([p for p in places if p.text], text_only)
        assert not found, f"{moment}: the server holds or logged what it must never learn:{describe(found)}"
        problems = padding_problems(stack, desks)
        assert not problems, f"{moment}: stored sizes that are not padded:{describe(problems)}"
        problems = time_problems(stack)
        assert not problems, f"{moment}: stored times finer than a day:{describe(problems)}"

    # Everything filed, nothing imported: the server holds all the reports and files.
    rows, _ = db_dump(stack)
    stored_ids = {row["case_id"] for row in rows["cases"]}
    assert {case.case_id for case in cases.values()} <= stored_ids, "the dump does not show the cases filed"
    first = next(json.loads(r["body"]) for r in recorder.requests if r["method"] == "POST" and r["url"].endswith("/api/v1/cases"))
    sent_envelope = base64.b64decode(first["envelope"])
    assert any(row["report_envelope"] == sent_envelope for row in rows["cases"]), "the first report's ciphertext is not where it is stored"
    assert len(rows["uploads"]) == 5 and sorted(row["chunks"] for row in rows["uploads"]) == [1, 1, 1, 1, 6], rows["uploads"]
    assert len([p for p in stack.blob_dir.rglob("*") if p.is_file()]) == 10
    check_server("with every report and file filed")

    # -- the desk imports and replies to four cases ----------------------------------------------
    reply_texts = {lang: canaries.make(lang, "reply") for lang in ("en", "ar", "zh", "fr")}
    desk_round(stack, tmp_path, "first", {cases[lang].ref: text for lang, text in reply_texts.items()})
    for lang, case in cases.items():
        decrypted = workstation_text(stack, case, tmp_path)
        missing = [f for f in text_fields if forms[lang][f] not in decrypted]
        assert not missing, f"the workstation did not receive the {lang} report's {missing}"
    en_files = workstation_text(stack, cases["en"], tmp_path)
    for label in ("photoname", "filename", "filecontent"):
        assert any(label in lab and value in en_files for value, lab in canaries.labels.items() if lab.startswith("en ")), label
    rows, _ = db_dump(stack)
    assert len(rows["replies"]) == 4, rows["replies"]
    withdrawn = cases["fr"]
    gone_with_the_case = [Needle("the withdrawn case's case_id", "hex", withdrawn.case_id.encode())] + [
        Needle("ciphertext of the withdrawn case's reply", "raw bytes", middle(row["blob"]))
        for row in rows["replies"] if row["case_id"] == withdrawn.case_id
    ]
    assert len(gone_with_the_case) == 2

    # -- the submitters read the replies; two add information, one withdraws ---------------------
    followups = {}
    for lang in ("en", "zh", "fr"):
        open_case(page, stack, cases[lang])
        shown = page.inner_text("#case-replies")
        assert reply_texts[lang] in shown, f"the {lang} submitter does not see the reply: {shown!r}"
        if lang in ("en", "zh"):
            text, name, body = c(lang, "followup"), c(lang, "followupfile"), c(lang, "followupcontent")
            followups[lang] = (text, name, body)
            page.fill("#followup-text", text)
            page.set_input_files("#followup-files", files=[{"name": name + ".txt", "mimeType": "text/plain", "buffer": body.encode()}])
            page.click("#followup-form button[type=submit]")
            page.wait_for_selector("#followup-sent:not([hidden])", timeout=120_000)
        else:
            page.click("#withdraw > summary")
            page.click("#withdraw-start")
            page.click("#withdraw-yes")
            page.wait_for_selector("#withdraw-sent:not([hidden])", timeout=60_000)
    assert page.locator("#error").is_hidden(), page.inner_text("#error")
    assert recorder.page_errors == [], recorder.page_errors

    # -- what the browser sent -----------------------------------------------------------------------
    assert recorder.requests and all(r["url"].startswith(stack.base_url + "/") for r in recorder.requests), \
        [r["url"] for r in recorder.requests if not r["url"].startswith(stack.base_url + "/")]
    assert any(r["headers"].get("user-agent") == USER_AGENT for r in recorder.requests), "the browser did not send the user agent"
    key_needles = [n for case in cases.values() for n in case.key_needles()]
    lookup_needles = [n for case in cases.values() for n in case.lookup_needles()]
    wire, urls_and_headers = [], []
    for i, r in enumerate(recorder.requests):
        name = f"request {i} ({r['method']} {r['url']})"
        head = Holding(f"the URL and headers of {name}", (r["url"] + "\n" + json.dumps(r["headers"])).encode(), True)
        wire.append(head)
        urls_and_headers.append(head)
        if r["body"]:
            wire.append(Holding(f"the body of {name}", r["body"], False))
    found = search(wire, canary_needles() + key_needles) + search(urls_and_headers, lookup_needles)
    assert not found, f"the browser sent what must never leave it:{describe(found)}"
    lookups_sent = [r for r in recorder.requests if r["body"] and base64.b64encode(cases["en"].lookup) in r["body"]]
    assert lookups_sent and all(r["method"] == "POST" for r in lookups_sent), "the lookup token travels only in POST bodies"
    assert any(b"127.0.0.1" in h.data for h in urls_and_headers), "the server received the loopback address (Host, Origin)"

    check_server("with the follow-ups and the withdrawal waiting")
    # Withdrawal deletes the case at once (asserted last, so that every other check runs).
    named_after_withdrawal = rows_naming(stack, withdrawn.case_id)
    traces_after_withdrawal = traces_in_files(stack, gone_with_the_case)

    # -- the desk imports the rest and acknowledges everything ----------------------------------------
    desk_round(stack, tmp_path, "second", {})
    for lang, (text, name, body) in followups.items():
        decrypted = workstation_text(stack, cases[lang], tmp_path)
        assert text in decrypted and name in decrypted and body in decrypted, f"the {lang} follow-up did not reach the desk"
    rows, _ = db_dump(stack)
    assert [row for row in rows["cases"] if row["report_envelope"] is not None] == [], "acknowledged reports must be deleted"
    assert [row for row in rows["followups"] if row["envelope"] is not None] == [], "acknowledged follow-ups must be deleted"
    assert not [p for p in stack.blob_dir.rglob("*") if p.is_file()], "acknowledged chunks must be deleted"
    check_server("after every item was acknowledged")
    context.close()
    # What the desk acknowledged is deleted: no copy of any envelope's ciphertext is left in
    # the database file or its -wal.
    acked = [
        Needle(f"ciphertext of the envelope sent by request {i} ({r['url'].rsplit('/api/v1/', 1)[-1]})", "raw bytes",
               middle(base64.b64decode(json.loads(r["body"])["envelope"])))
        for i, r in enumerate(recorder.requests)
        if r["method"] == "POST" and r["url"].endswith(("/api/v1/cases", "/api/v1/cases/followups", "/api/v1/cases/withdraw"))
    ]
    assert len(acked) >= 6 + 2 + 1, [n.label for n in acked]
    traces = traces_in_files(stack, acked)
    assert not traces, f"acknowledged ciphertext is still in the server's files:{describe(traces)}"
    assert not named_after_withdrawal, \
        f"right after its withdrawal, the withdrawn case {withdrawn.case_id} was still named by rows: {named_after_withdrawal}"
    named = rows_naming(stack, withdrawn.case_id)
    assert not named, f"after the desk's import, the withdrawn case {withdrawn.case_id} is still named by rows: {named}"
    assert not traces_after_withdrawal, \
        f"right after its withdrawal, the withdrawn case was still in the server's files:{describe(traces_after_withdrawal)}"
    traces = traces_in_files(stack, gone_with_the_case)
    assert not traces, f"after the desk's import, the withdrawn case is still in the server's files:{describe(traces)}"
