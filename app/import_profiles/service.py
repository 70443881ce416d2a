"""Import profiles: the MSP's own (rows) and the built-in ones (presets), read alike,
looked up by id or name; built-in ones are read-only. Plain async functions, no HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.crud import changes, ensure_unique, require_reference
from app.core.errors import Conflict, Invalid, NotFound, field_error
from app.core.pagination import Cursor, Page, PageParams
from app.core.types import MAX_ID
from app.import_profiles.models import (
    ImportProfile,
    ImportProfileCreate,
    ImportProfileRead,
    ImportProfileUpdate,
    KindRule,
    ProfileSettings,
    SkipRule,
    name_key,
)
from app.import_profiles.parsing import Profile
from app.import_profiles.presets import BY_NAME, PRESETS
from app.vendor_invoices.models import LineKind
from app.vendors.models import Vendor

SETTINGS = (
    "vendor_id",
    "delimiter",
    "decimal_separator",
    "date_format",
    "columns",
    "kinds",
    "cycle_months",
    "skip",
)
# The list gives the built-in profiles first, then the stored ones by id: the cursor
# carries how many built-in ones were given and the last id.
LIST_CURSOR = Cursor("p1", int, int)


class BuiltInReadOnly(Conflict):
    code = "built-in-profile"


# --- reading -------------------------------------------------------------------------------


def _built_in_read(profile: Profile) -> ImportProfileRead:
    return ImportProfileRead(
        id=None,
        name=profile.name,
        built_in=True,
        vendor_id=None,
        delimiter=profile.delimiter,
        decimal_separator=profile.decimal_separator,  # type: ignore[arg-type]
        date_format=profile.date_format,  # type: ignore[arg-type]
        columns=dict(profile.columns),
        kinds=[KindRule(column=c, equals=e, kind=k) for c, e, k in profile.kinds],
        cycle_months=dict(profile.cycle_months),
        skip=[SkipRule(column=c, equals=e) for c, e in profile.skip],
        created_at=None,
        updated_at=None,
    )


def _read(row: ImportProfile) -> ImportProfileRead:
    return ImportProfileRead.model_validate({**row.model_dump(), "built_in": False})


def to_profile(row: ImportProfile) -> Profile:
    """A stored profile as the parser reads it."""
    return Profile(
        name=row.name,
        id=row.id,
        vendor_id=row.vendor_id,
        delimiter=row.delimiter,
        decimal_separator=row.decimal_separator,
        date_format=row.date_format,
        columns=dict(row.columns),
        kinds=tuple((r["column"], r["equals"], LineKind(r["kind"])) for r in row.kinds),
        cycle_months=dict(row.cycle_months),
        skip=tuple((r["column"], r["equals"]) for r in row.skip),
    )


async def _row(session: AsyncSession, ref: str) -> ImportProfile | None:
    text = ref.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        return await session.get(ImportProfile, number) if 1 <= number <= MAX_ID else None
    row: ImportProfile | None = await session.scalar(
        select(ImportProfile).where(col(ImportProfile.name) == text)
    )
    return row


async def find(session: AsyncSession, ref: str) -> Profile | ImportProfile | None:
    """A profile by id (digits) or name: a built-in one (a Profile) or a row."""
    return BY_NAME.get(ref.strip()) or await _row(session, ref)


async def get_profile(session: AsyncSession, *, ref: str) -> ImportProfileRead:
    found = await find(session, ref)
    if found is None:
        raise NotFound(f"import profile {ref!r} does not exist")
    return _built_in_read(found) if isinstance(found, Profile) else _read(found)


async def resolve(session: AsyncSession, ref: str | None) -> Profile:
    """The profile an import names (the canonical one when none): a 422 on form.profile
    when it names none."""
    if ref is None or not ref.strip():
        return BY_NAME["canonical"]
    found = await find(session, ref)
    if found is None:
        message = f"no import profile has the id or name {ref.strip()!r}"
        raise Invalid(message, errors=[field_error("form.profile", message, "not_found")])
    return found if isinstance(found, Profile) else to_profile(found)


async def list_profiles(session: AsyncSession, *, page: PageParams) -> Page[ImportProfileRead]:
    given, after = LIST_CURSOR.decode(page.cursor) if page.cursor else (0, 0)
    if given > len(PRESETS):  # well formed, but never issued
        message = "invalid cursor"
        raise Invalid(
            "The cursor is not one this service issued.",
            errors=[field_error("query.cursor", message, "cursor_invalid")],
        )
    items = [_built_in_read(p) for p in PRESETS[given : given + page.limit]]
    given += len(items)
    room = page.limit - len(items)
    rows = (
        await session.scalars(
            select(ImportProfile)
            .where(col(ImportProfile.id) > after)
            .order_by(col(ImportProfile.id))
            .limit(room + 1)
        )
    ).all()
    items += [_read(row) for row in rows[:room]]
    next_cursor = None
    if given < len(PRESETS):
        next_cursor = LIST_CURSOR.encode(given, after)
    elif len(rows) > room:
        last = rows[room - 1].id if room else after
        next_cursor = LIST_CURSOR.encode(given, last)
    return Page[ImportProfileRead](items=items, next_cursor=next_cursor)


# --- writing -------------------------------------------------------------------------------


async def _check_name(session: AsyncSession, name: str, exclude_id: int | None) -> None:
    if name_key(name) in {name_key(preset) for preset in BY_NAME}:
        message = f"{name!r} is the name of a built-in profile"
        raise Conflict(message + ".", errors=[field_error("body.name", message, "duplicate")])
    await ensure_unique(
        session,
        ImportProfile,
        [col(ImportProfile.name_key) == name_key(name)],
        exclude_id=exclude_id,
        field="name",
        message=f"An import profile is already named {name!r}.",
    )


def _stored(settings: ProfileSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json", include=set(SETTINGS))


async def create_profile(session: AsyncSession, *, data: ImportProfileCreate) -> ImportProfileRead:
    await _check_name(session, data.name, None)
    await require_reference(session, Vendor, data.vendor_id, "vendor_id", "vendor")
    row = ImportProfile(name=data.name, name_key=name_key(data.name), **_stored(data))
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return _read(row)


async def _writable(session: AsyncSession, ref: str, action: str) -> ImportProfile:
    if ref.strip() in BY_NAME:
        raise BuiltInReadOnly(
            f"{ref.strip()!r} is a built-in profile and cannot be {action}; create your own "
            "profile (POST /import-profiles) with its settings and change that."
        )
    row = await _row(session, ref)
    if row is None:
        raise NotFound(f"import profile {ref!r} does not exist")
    return row


async def update_profile(
    session: AsyncSession, *, ref: str, data: ImportProfileUpdate
) -> ImportProfileRead:
    row = await _writable(session, ref, "changed")
    given = changes(
        data,
        required=("name", "decimal_separator", "date_format", "columns", "kinds", "cycle_months"),
    )
    if given.get("skip", ()) is None:
        given["skip"] = []
    current = {name: getattr(row, name) for name in SETTINGS}
    try:
        # The whole profile must hold together after the change (columns and cycles).
        settings = ProfileSettings.model_validate(
            {**current, **{k: v for k, v in given.items() if k != "name"}}
        )
    except ValidationError as exc:
        errors = [
            field_error(
                ".".join(["body", *(str(part) for part in error["loc"])]),
                str(error["msg"]).removeprefix("Value error, "),
                error["type"],
            )
            for error in exc.errors(include_url=False)
        ]
        raise Invalid("The changed profile is not valid.", errors=errors) from None
    if "name" in given:
        await _check_name(session, given["name"], row.id)
        row.name = given["name"]
        row.name_key = name_key(given["name"])
    if "vendor_id" in given:
        await require_reference(session, Vendor, given["vendor_id"], "vendor_id", "vendor")
    for name, value in _stored(settings).items():
        setattr(row, name, value)
    await session.flush()
    await session.refresh(row)
    return _read(row)


async def delete_profile(session: AsyncSession, *, ref: str) -> None:
    row = await _writable(session, ref, "deleted")
    await session.delete(row)
    await session.flush()
