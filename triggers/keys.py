"""API keys: creating and revoking them (the admin and the command both call these)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from .caching import definitions_changed
from .models import ApiKey


def create_api_key(
    name: str, *, scope: str, source: str = "", created_by: AbstractBaseUser | None = None, **limits: int
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the raw secret, which is never stored (only its hash)."""
    raw, prefix, hashed = ApiKey.generate()
    api_key = ApiKey(name=name, scope=scope, source=source, prefix=prefix, hashed_key=hashed, created_by=created_by)  # type: ignore[misc]  # the project's User
    for field, value in limits.items():
        setattr(api_key, field, value)
    api_key.full_clean()
    api_key.save()
    return api_key, raw


def revoke_api_keys(keys: QuerySet[ApiKey]) -> int:
    """Revoke the keys not yet revoked; they are refused from the next request on, by every
    web process (an update sends no model signal: the processes' caches are told here)."""
    revoked = keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        definitions_changed()
    return revoked
