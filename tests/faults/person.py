"""People sending reports, follow-ups and files through real HTTP the way the page does,
while the server dies and comes back: real crypto (tests/api/support.py's Submitter, the
resumable-upload derivations of docs/PROTOCOL.md), real proofs of work (ProvingHttpClient),
and the page's retries (client_web/js/ui/retry.js, js/ui/upload_view.js):

- a request that gets no answer (connection refused, reset, cut short) is sent again after a
  pause; a refusal (an HTTP answer) is never retried but returned to the caller;
- an upload is found again with POST /api/v1/uploads/resume (its handle is derived from the
  case key and the file), created only if the server has none, and then only the chunks the
  server lacks are sent, sealed again from the header the server kept;
- a report whose answer was lost is sent again: `case_exists` then means it was filed; a
  follow-up likewise with `followup_exists`.

What a person was told was received is recorded in `Sent`, for the desk to find later."""

import random
import secrets
import time
from dataclasses import dataclass, field

import httpx

from api.support import DAY, ProvingHttpClient, Submitter
from crypto import envelope
from crypto import upload as resumable
from crypto.attachment import CHUNK_PLAINTEXT, AttachmentSealer, StreamParams
from crypto.encoding import b64decode, b64encode


class GaveUp(AssertionError):
    """The server stayed unreachable longer than any retry policy waits."""


class Refused(AssertionError):
    """An answer the page would show the person as an error (none is expected here)."""


@dataclass
class File:
    name: str
    data: bytes
    upload_id: str | None = None
    params: StreamParams | None = None
    acked_chunks: set = field(default_factory=set)  # indexes answered 204
    chunks: list = field(default_factory=list, repr=False)  # its ciphertext, sealed from the server's header

    def descriptor(self) -> dict:
        assert self.upload_id and self.params
        return {"upload_id": self.upload_id, "name": self.name, "type": "application/octet-stream",
                "size": self.params.size, "key": b64encode(self.params.key), "header": b64encode(self.params.header),
                "chunks": self.params.chunks}


@dataclass
class Sent:
    """One case as its submitter knows it: everything the server said it received."""

    submitter: Submitter
    text: str
    files: list[File]
    followups: list[tuple[str, list[File]]] = field(default_factory=list)
    abandoned: list[File] = field(default_factory=list)  # uploads left unfinished, to resume later


class Channel:
    """The page's connection to the server: retries what got no answer."""

    def __init__(self, base_url: str, rng: random.Random, give_up_after: float = 180.0):
        self.http = ProvingHttpClient(base_url=base_url, timeout=httpx.Timeout(30.0, connect=5.0))
        self.rng = rng
        self.give_up_after = give_up_after
        self.lost = 0  # requests that got no answer and were sent again

    def _again(self, send) -> httpx.Response:
        started = time.monotonic()
        while True:
            try:
                return send()
            except httpx.TransportError:
                self.lost += 1
                if time.monotonic() - started > self.give_up_after:
                    raise GaveUp("the server did not come back") from None
                time.sleep(self.rng.uniform(0.05, 0.25))

    def post(self, path: str, body: dict) -> httpx.Response:
        return self._again(lambda: self.http.post(path, json=body))

    def put(self, path: str, data: bytes) -> httpx.Response:
        return self._again(lambda: self.http.put(path, content=data, headers={"Content-Type": "application/octet-stream"}))

    def close(self) -> None:
        self.http.close()


def _refused(what: str, response: httpx.Response) -> Refused:
    return Refused(f"{what}: {response.status_code} {response.text[:300]}")


def evidence(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


class Person:
    """One submitter at a time, doing what the page does."""

    def __init__(self, channel: Channel, desks):
        self.channel = channel
        self.desks = desks

    # -- uploads ---------------------------------------------------------------------------

    def _keys(self, submitter: Submitter, data: bytes) -> tuple[bytes, bytes]:
        digest = resumable.file_hash(data[i:i + 100_000] for i in range(0, len(data), 100_000))
        return resumable.upload_keys(submitter.case_key, digest)

    def find_or_create(self, submitter: Submitter, file: File) -> list[int]:
        """The server's upload for this file (found by its resume handle, else created);
        returns the chunk indexes the server holds."""
        handle, key = self._keys(submitter, file.data)
        while True:
            found = self.channel.post("/api/v1/uploads/resume", {"resume": b64encode(handle)})
            if found.status_code == 200:
                body = found.json()
                file.upload_id = body["upload_id"]
                header = b64decode(body["header"])
                received = body["received"]
                break
            if found.status_code != 404:
                raise _refused("resume", found)
            sealer = AttachmentSealer(len(file.data), key)
            created = self.channel.post("/api/v1/uploads", {
                "chunks": sealer.params.chunks, "resume": b64encode(handle), "header": b64encode(sealer.params.header),
            })
            if created.status_code == 409 and created.json()["error"]["code"] == "upload_exists":
                continue  # created before, its answer lost: find it
            if created.status_code != 201:
                raise _refused("create upload", created)
            file.upload_id = created.json()["upload_id"]
            header, received = sealer.params.header, []
            break
        sealer = AttachmentSealer(len(file.data), key, header)
        file.params = sealer.params
        file.chunks = [sealer.seal_chunk(file.data[i * CHUNK_PLAINTEXT:(i + 1) * CHUNK_PLAINTEXT])
                        for i in range(sealer.params.chunks)]
        return list(received)

    def send_chunks(self, file: File, received: list[int], *, stop_after: int | None = None) -> None:
        """Send every chunk the server lacks (or only the first `stop_after` of them)."""
        missing = [i for i in range(file.params.chunks) if i not in received]
        for count, index in enumerate(missing):
            if stop_after is not None and count >= stop_after:
                return
            put = self.channel.put(f"/api/v1/uploads/{file.upload_id}/chunks/{index}", file.chunks[index])
            if put.status_code != 204:
                raise _refused(f"chunk {index}", put)
            file.acked_chunks.add(index)

    def upload(self, submitter: Submitter, file: File) -> None:
        self.send_chunks(file, self.find_or_create(submitter, file))

    # -- reports and follow-ups -------------------------------------------------------------

    def _file(self, path: str, body: dict, repeated: str) -> None:
        """Send until answered; `repeated` (case_exists, followup_exists) is success only
        when an earlier copy went unanswered, i.e. it was the lost copy that was filed."""
        lost = self.channel.lost
        response = self.channel.post(path, body)
        if response.status_code == 201:
            return
        if response.status_code == 409 and response.json()["error"]["code"] == repeated and self.channel.lost > lost:
            return
        raise _refused(path, response)

    def report(self, files: list[File]) -> Sent:
        submitter = Submitter()
        for file in files:
            self.upload(submitter, file)
        text = f"Report {secrets.token_hex(6)}: questioned after the session."
        envelope = submitter.report(self.desks, [f.descriptor() for f in files], text=text)
        self._file("/api/v1/cases", {"lookup": submitter.lookup, "envelope": b64encode(envelope),
                                     "uploads": [f.upload_id for f in files]}, "case_exists")
        return Sent(submitter, text, files)

    def followup(self, sent: Sent, files: list[File]) -> None:
        """Files follow the report as a follow-up, as the page sends them."""
        for file in files:
            self.upload(sent.submitter, file)
        text = f"Follow-up {secrets.token_hex(6)}."
        body = {"v": 1, "kind": "followup", "case_id": sent.submitter.case_id, "id": secrets.token_hex(16), "day": DAY,
                "text": text, "attachments": [f.descriptor() for f in files]}
        sealed = envelope.seal("followup", body, sent.submitter.keys.sign_secret, tuple(d.public for d in self.desks))
        self._file("/api/v1/cases/followups", {"lookup": sent.submitter.lookup, "envelope": b64encode(sealed),
                                               "uploads": [f.upload_id for f in files]}, "followup_exists")
        sent.followups.append((text, files))
