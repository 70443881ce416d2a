"""Settings from the environment (prefix MSP_): the only place configuration is read."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "msp.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MSP_", env_file=".env", extra="ignore")

    # Unset means the embedded SQLite file under ./var/ (README.md, Configuration).
    database_url: str | None = None
    # Accepted as a key with every scope; when unset an admin key is generated
    # on first start and only its hash is stored.
    admin_api_key: SecretStr | None = None
    # Where that generated key is written (a new file, mode 0600) instead of being
    # printed to stderr, where a container's logs would keep it (README.md#docker).
    bootstrap_key_file: Path | None = None
    log_level: str = "INFO"
    # Log lines as JSON (production) or plain text (a developer's terminal).
    log_json: bool = True
    # Echo SQL statements (debugging only).
    sql_echo: bool = False
    # How long Idempotency-Key records are honoured (docs/idempotency.md#lifetime).
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # An Idempotency-Key still "in progress" after this long is taken as abandoned (its
    # process died) and may be claimed again.
    idempotency_abandon_seconds: int = Field(default=300, ge=1)
    # Request bodies above this are refused with a 413 problem (10,000-line invoices are
    # a few MB; the CSV import has its own row limit).
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # Browser origins allowed to call the API (CORS); empty: CORS stays off.
    cors_origins: list[str] = Field(default_factory=list)
    # Send Strict-Transport-Security (behind TLS only).
    hsts: bool = False
    # Quote previews warn on lines whose margin is below this.
    quote_margin_floor: Decimal = Field(default=Decimal("0.20"), ge=-10, le=1)
    # A verified API key is trusted this long per worker process without a database
    # lookup; a deleted key stops at once in the process that deleted it, elsewhere within
    # this. 0 turns the cache off.
    api_key_cache_seconds: float = Field(default=5, ge=0, le=60)
    # last_used_at on API keys is refreshed at most this often, so reads stay reads.
    api_key_touch_interval_seconds: int = Field(default=60, ge=0)

    # The receivable account QuickBooks Desktop posts exported invoices and credit memos to
    # (docs/exports.md#iif).
    quickbooks_ar_account: str = Field(default="Accounts Receivable", min_length=1, max_length=200)
    # QuickBooks Online's Id of the item that invoice lines without a service are sold as;
    # unset, exporting such a line is a 409 (docs/exports.md#mapping-to-quickbooks).
    quickbooks_default_item_id: str | None = Field(default=None, max_length=64)

    # Outbound events (docs/events.md). Subscriptions to loopback, private and link-local
    # addresses are refused unless this is true (a PSA on the same network, tests).
    events_allow_private: bool = False
    # The sender looks for due deliveries at least this often; a commit that writes
    # deliveries wakes it at once in its own process.
    events_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    # One attempt waits this long for the receiver's answer.
    events_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Retries: the first after this delay, each next one twice as late, capped, and no
    # more once the give-up time after the first attempt has passed
    # (docs/events.md#retries).
    events_first_retry_seconds: float = Field(default=10.0, gt=0, le=10)
    events_max_retry_seconds: float = Field(default=3600.0, gt=0, le=3600)
    events_give_up_seconds: float = Field(default=24 * 3600.0, gt=0, le=7 * 24 * 3600)
    # Delivery attempts in flight at once (docs/events.md#delivery).
    events_batch_size: int = Field(default=20, ge=1, le=500)
    # After a secret is rotated the old one keeps signing this long, so receivers can
    # switch without losing an event (docs/events.md#rotating-the-secret).
    events_secret_overlap_seconds: float = Field(default=24 * 3600.0, ge=0, le=30 * 24 * 3600)

    @field_validator(
        "quickbooks_ar_account", "quickbooks_default_item_id", "bootstrap_key_file", mode="before"
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        # An empty MSP_QUICKBOOKS_DEFAULT_ITEM_ID= (or MSP_BOOTSTRAP_KEY_FILE=) means unset.
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
