"""Server settings, read from QUIETLINE_* environment variables (docs/DEVELOPMENT.md).

Relative paths (and a relative SQLite file in the database URL) are resolved against the
repository root, so `quietline serve` behaves the same from any working directory.
"""

from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crypto.envelope import AEAD_TAG, ENTRY_BYTES, MAX_RECIPIENTS, NONCE_BYTES
from crypto.padding import MAX_MESSAGE

REPO_ROOT = Path(__file__).resolve().parent.parent

# The largest envelope parse_header can accept: 16 recipients and a 1 MiB padded body.
MAX_ENVELOPE_BYTES = 7 + MAX_RECIPIENTS * ENTRY_BYTES + NONCE_BYTES + MAX_MESSAGE + AEAD_TAG


def resolve_path(path: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def resolve_database_url(url: str) -> str:
    """`sqlite:///relative/file.db` is made absolute under the repository root."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
                return prefix + str(REPO_ROOT / rest)
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUIETLINE_", extra="ignore")

    database_url: str = "sqlite:///var/dev/quietline.db"
    blob_dir: Path = Path("var/dev/blobs")
    # Where attachment chunks live (server/storage/blobs.py): "local" under blob_dir, or
    # "s3" in an S3-compatible bucket (server/storage/s3.py; docs/OPERATIONS.md), blob_dir
    # then holding only the temporary spools for bundles. Credentials come from the
    # standard AWS environment or config, never from here. s3_max_attempts is botocore's
    # retry budget per request (first try included).
    blob_backend: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str = ""
    s3_prefix: str = "quietline/"
    s3_max_attempts: int = 5
    manifest: Path = Path("keys/dev/manifest.json")
    deployment: Path = Path("keys/dev/deployment.json")
    desk_tokens: Path = Path("var/dev/desk-tokens.json")
    client_dir: Path = Path("client_web")

    # Limits. max_chunks 4096 x 256 KiB = 1 GiB per attachment.
    max_chunks: int = 4096
    max_uploads_per_envelope: int = 20
    max_envelope_bytes: int = MAX_ENVELOPE_BYTES
    max_outbound_bundle_bytes: int = 64 * 1024 * 1024
    # Uploads never filed with a report or follow-up are purged once they are older than
    # this many whole days (so every upload gets at least this long to be filed).
    orphan_upload_days: int = 1
    # Retention (server/retention.py): a case is kept case_retention_days after its last
    # report, follow-up or reply, a reply reply_retention_days after it was stored, each
    # plus a random 0..retention_spread_days so an expiry day does not tell the day of the
    # activity behind it. Nothing still waiting for a desk ever expires.
    case_retention_days: int = 365
    reply_retention_days: int = 180
    retention_spread_days: int = 30
    # Per-case follow-up limits (server/quotas.py): follow-ups filed to one case on one day,
    # and follow-ups of one case still waiting for a desk; beyond them 429 followup_limit.
    followups_per_case_per_day: int = 20
    followups_pending_per_case: int = 100
    # Storage quotas (server/quotas.py), beyond which intake answers 507 storage_full:
    # all ciphertext waiting for a desk (envelopes not yet acknowledged, and every upload
    # not yet acknowledged at its declared chunk count), and uploads not yet filed.
    storage_quota_bytes: int = 50 * 1024**3
    unfiled_upload_quota_bytes: int = 10 * 1024**3
    # Proof of work (server/security/pow.py, docs/DEVELOPMENT.md "Proof of work"): the key
    # file every worker of a deployment shares; the base difficulty in bits, chosen with
    # bench/pow_cost.py so a low-end phone without WebAssembly needs a second or two; the
    # most it rises to under load; the proofs a worker sees per minute above which it rises
    # (one bit, and one more at each doubling); how long a challenge stays valid.
    pow_key_file: Path = Path("var/dev/pow.key")
    pow_bits: int = 10
    pow_max_bits: int = 20
    pow_load_per_minute: int = 30
    pow_lifetime_minutes: int = 10

    @field_validator("blob_dir", "manifest", "deployment", "desk_tokens", "client_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return resolve_path(value)

    @field_validator("database_url", mode="after")
    @classmethod
    def _absolute_sqlite(cls, value: str) -> str:
        return resolve_database_url(value)

    @field_validator("max_chunks", "max_uploads_per_envelope", "max_envelope_bytes", "max_outbound_bundle_bytes",
                     "followups_per_case_per_day", "followups_pending_per_case", "storage_quota_bytes",
                     "unfiled_upload_quota_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("limits must be positive")
        return value

    @field_validator("case_retention_days", "reply_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < 1:
            raise ValueError("retention must be at least one day")
        return value

    @field_validator("retention_spread_days")
    @classmethod
    def _spread(cls, value: int) -> int:
        if value < 0:
            raise ValueError("the retention spread cannot be negative")
        return value

    @field_validator("pow_key_file", mode="after")
    @classmethod
    def _pow_key_path(cls, value: Path) -> Path:
        return resolve_path(value)

    @field_validator("pow_bits", "pow_max_bits")
    @classmethod
    def _pow_bits(cls, value: int) -> int:
        if not 0 <= value <= 64:
            raise ValueError("proof-of-work difficulty is 0 to 64 bits")
        return value

    @field_validator("pow_load_per_minute", "pow_lifetime_minutes")
    @classmethod
    def _pow_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @model_validator(mode="after")
    def _pow_range(self) -> "Settings":
        if self.pow_max_bits < self.pow_bits:
            raise ValueError("pow_max_bits cannot be below pow_bits")
        return self

    @model_validator(mode="after")
    def _s3(self) -> "Settings":
        if self.blob_backend == "s3" and not self.s3_bucket:
            raise ValueError("blob_backend s3 needs s3_bucket")
        if self.s3_max_attempts < 1:
            raise ValueError("s3_max_attempts must be at least 1")
        return self

    @property
    def max_json_bytes(self) -> int:
        """Cap on a JSON request body: a base64 envelope at the size limit, a lookup token
        and a full list of upload ids, with room for the JSON around them."""
        envelope_b64 = 4 * -(-self.max_envelope_bytes // 3)
        return envelope_b64 + self.max_uploads_per_envelope * 40 + 4096
