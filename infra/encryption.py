"""Secrets at rest (destination secrets, table source connections): Fernet tokens under the
keys in SECRETS_KEYS (docs/security.md, "Secrets at rest").

The first key encrypts and every key decrypts, so rotation is: put a new key first,
run `manage.py rotate_secrets` (which re-encrypts every row), then drop the old key.
"""

from collections.abc import Iterator, Mapping
from functools import lru_cache

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MASK = "••••"
UNREADABLE = "these secrets were encrypted with a key that SECRETS_KEYS does not hold"


class SecretsUnreadable(Exception):
    """The stored secrets were encrypted under a key SECRETS_KEYS no longer holds."""


class Secrets(Mapping[str, str]):
    """Decrypted secret settings; printing one shows the names, never the values."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Secrets(" + ", ".join(f"{name}={MASK}" for name in self._values) + ")"

    __str__ = __repr__


def encrypt(values: Mapping[str, str]) -> str:
    if not values:
        return ""
    return _fernet(tuple(settings.SECRETS_KEYS)).encrypt(orjson.dumps(dict(values))).decode()


def decrypt(token: str) -> Secrets:
    if not token:
        return Secrets()
    try:
        return Secrets(orjson.loads(_fernet(tuple(settings.SECRETS_KEYS)).decrypt(token)))
    except InvalidToken:
        raise SecretsUnreadable(UNREADABLE) from None


def reencrypt(token: str) -> str:
    """The same secrets under the first key of SECRETS_KEYS."""
    if not token:
        return ""
    try:
        return _fernet(tuple(settings.SECRETS_KEYS)).rotate(token).decode()
    except InvalidToken:
        raise SecretsUnreadable(UNREADABLE) from None


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "SECRETS_KEYS is empty: set it to a Fernet key to store destination secrets "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())")'
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(f"SECRETS_KEYS holds a malformed Fernet key: {error}") from None
