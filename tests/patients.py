"""Patient fields as typed keyword arguments, for the tests' ``case(..., age=45)`` builders.

Why a TypedDict: the builders forward ``**patient`` to ``Patient`` (or ``dataclasses.replace``),
and with ``Unpack[PatientFields]`` mypy checks each keyword's name and type at every call,
which ``**patient: object`` could not.
"""

from __future__ import annotations

from typing import TypedDict

from services.knowledge.models import Sex


class PatientFields(TypedDict, total=False):
    """The fields of ``services.knowledge.clinical.Patient``, all optional."""

    ref: str
    age: int | None
    sex: Sex | None
    activity: str
    setting: str
    flags: frozenset[str]
    days_to_competition: int | None
