"""Pipeline and stage inputs, validated here so every transport gets the same rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

NAME_MAX = 200
MAX_STAGES = 50
STAGE_KINDS = ("open", "won", "lost")


def clean_name(value: str, *, field_name: str = "name") -> str:
    return clean_text(value, field=field_name, max_length=NAME_MAX, required=True)


def clean_probability(value: int, *, field_name: str = "probability") -> int:
    if not 0 <= value <= 100:
        raise InvalidArgument(
            "probability is a percentage, 0..100", code="invalid_probability", field=field_name
        )
    return value


def clean_kind(value: str, *, field_name: str = "kind") -> str:
    kind = value or "open"
    if kind not in STAGE_KINDS:
        raise InvalidArgument(
            f"kind is one of {', '.join(STAGE_KINDS)}", code="invalid_stage_kind", field=field_name
        )
    return kind


@dataclass(frozen=True)
class StageInput:
    name: str
    probability: int = 0
    kind: str = "open"

    def cleaned(self, where: str = "stage") -> StageInput:
        return StageInput(
            name=clean_name(self.name, field_name=f"{where}.name"),
            probability=clean_probability(self.probability, field_name=f"{where}.probability"),
            kind=clean_kind(self.kind, field_name=f"{where}.kind"),
        )


@dataclass(frozen=True)
class PipelineCreate:
    name: str
    stages: list[StageInput] = field(default_factory=list)

    def cleaned(self) -> PipelineCreate:
        if not 0 < len(self.stages) <= MAX_STAGES:
            raise InvalidArgument(
                f"a pipeline needs 1..{MAX_STAGES} stages", code="invalid_stages", field="stages"
            )
        return PipelineCreate(
            name=clean_name(self.name),
            stages=[s.cleaned(f"stages[{i}]") for i, s in enumerate(self.stages)],
        )


@dataclass(frozen=True)
class PipelineUpdate:
    """`name` renames; `stage_order`, when given, lists every stage id in the new order."""

    name: str | None = None
    stage_order: list[uuid.UUID] | None = None


@dataclass(frozen=True)
class StageUpdate:
    name: str | None = None
    probability: int | None = None
    kind: str | None = None

    def cleaned(self) -> dict[str, object]:
        changes: dict[str, object] = {}
        if self.name is not None:
            changes["name"] = clean_name(self.name)
        if self.probability is not None:
            changes["probability"] = clean_probability(self.probability)
        if self.kind is not None:
            changes["kind"] = clean_kind(self.kind)
        return changes
