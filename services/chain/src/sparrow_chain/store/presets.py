"""A user's named presets of knobs: the prompt, energy, length and sampling a
musician keeps to ask for takes with again, on any chain. Saving a name that
exists changes it; at most MAX_PRESETS a user."""

from __future__ import annotations

import dataclasses

from sqlalchemy import delete, func, insert, select, update

from sparrow_chain.domain import Knobs, Preset
from sparrow_chain.store.base import Store, now
from sparrow_chain.store.convert import utc
from sparrow_chain.store.tables import presets
from sparrow_common.errors import Conflict, InvalidArgument, NotFound

MAX_PRESETS = 50
MAX_NAME_CHARS = 60


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidArgument(f"a preset's name is 1 to {MAX_NAME_CHARS} characters")
    return name


class Presets(Store):
    def presets(self, owner: str) -> list[Preset]:
        """The user's presets, by name."""
        with self._read() as conn:
            rows = conn.execute(
                select(presets).where(presets.c.owner_id == owner).order_by(func.lower(presets.c.name), presets.c.name)
            ).all()
        return [Preset(r.name, Knobs(**r.knobs), utc(r.updated_at)) for r in rows]

    def save_preset(self, owner: str, name: str, knobs: Knobs) -> Preset:
        """Keep `knobs` (their seed aside: a preset makes new takes) as `name`."""
        name = _name(name)
        knobs = dataclasses.replace(knobs.validated(), seed=None)
        moment = now()
        with self._write() as conn:
            values = dict(knobs=dataclasses.asdict(knobs), updated_at=moment)
            found = conn.execute(
                update(presets).where(presets.c.owner_id == owner, presets.c.name == name).values(**values)
            ).rowcount
            if not found:
                count = conn.execute(
                    select(func.count()).select_from(presets).where(presets.c.owner_id == owner)
                ).scalar_one()
                if count >= MAX_PRESETS:
                    raise Conflict(f"You have {MAX_PRESETS} presets, the most there can be: delete one first.")
                conn.execute(insert(presets).values(owner_id=owner, name=name, **values))
        return Preset(name, knobs, moment)

    def delete_preset(self, owner: str, name: str) -> None:
        with self._write() as conn:
            gone = conn.execute(delete(presets).where(presets.c.owner_id == owner, presets.c.name == _name(name)))
            if not gone.rowcount:
                raise NotFound(f"You have no preset called {name!r}.")
