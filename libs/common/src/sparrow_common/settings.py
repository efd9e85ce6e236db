"""Settings a service was given but does not read: a variable with its prefix
that names none of its fields (misspelt, renamed since, or meant for another
service) is said at start, with the setting it most likely meant, never
silently ignored."""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping

from pydantic_settings import BaseSettings

log = logging.getLogger(__name__)


def unread(settings: type[BaseSettings], environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Each variable of `environ` (the process's by default) that carries the
    settings' prefix and is none of their fields -> the variable it most likely
    meant (None when nothing is close). Names are compared as pydantic-settings
    reads them: without regard to case."""
    environ = os.environ if environ is None else environ
    prefix = (settings.model_config.get("env_prefix") or "").upper()
    if not prefix:
        return {}
    fields = sorted(name.upper() for name in settings.model_fields)
    found = {}
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(prefix) and upper[len(prefix):] not in fields:
            # Past the prefix, which every name shares and would make any two look alike.
            near = difflib.get_close_matches(upper[len(prefix):], fields, n=1, cutoff=0.6)
            found[name] = prefix + near[0] if near else None
    return found


def say_unread(settings: type[BaseSettings], environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Log a warning for each variable `unread` finds; -> what it found."""
    found = unread(settings, environ)
    for name, meant in found.items():
        hint = f" (did you mean {meant}?)" if meant else ""
        log.warning("%s is not a setting of this service and is ignored%s", name, hint)
    return found
