"""API keys: who is calling and on which tier.

Keys come from configuration as `sha256:<hex of the key>=<user>:<tier>` entries,
comma-separated (GATEWAY_API_KEYS), so the gateway never holds a key itself,
only its hash. `python -m sparrow_gateway.accounts USER TIER` makes a new key and
prints it with its configuration entry.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    FREE = "free"
    PAID = "paid"


@dataclass(frozen=True)
class Account:
    user: str
    tier: Tier


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key (URL-safe)."""
    return "sk_" + secrets.token_urlsafe(24)


def entry(key: str, user: str, tier: Tier) -> str:
    """The configuration entry for `key`."""
    return f"sha256:{key_hash(key)}={user}:{tier.value}"


class Accounts:
    """Looks keys up by hash, in constant time per entry."""

    def __init__(self, config: str):
        self._by_hash: dict[str, Account] = {}
        for item in filter(None, (part.strip() for part in config.split(","))):
            digest, _, who = item.partition("=")
            user, _, tier = who.partition(":")
            if not digest.startswith("sha256:") or not user or tier not in Tier.__members__.values():
                raise ValueError(f"bad API key entry {item[:20]!r}...: expected sha256:<hex>=<user>:<free|paid>")
            self._by_hash[digest.removeprefix("sha256:").lower()] = Account(user, Tier(tier))

    def find(self, key: str | None) -> Account | None:
        if not key:
            return None
        digest = key_hash(key)
        for known, account in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return account
        return None

    def __len__(self) -> int:
        return len(self._by_hash)


def main() -> None:
    parser = argparse.ArgumentParser(description="Make a new Sparrow API key.")
    parser.add_argument("user")
    parser.add_argument("tier", choices=[t.value for t in Tier])
    args = parser.parse_args()
    key = new_key()
    print(f"key:   {key}\nentry: {entry(key, args.user, Tier(args.tier))}")


if __name__ == "__main__":
    main()
