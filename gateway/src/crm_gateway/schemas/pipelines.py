"""Request and response bodies of pipelines, stages and the pipeline board."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel, Pipeline, Stage

StageKind = Literal["open", "won", "lost"]


class StageCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, examples=["Demo scheduled"])
    probability: int = Field(default=0, ge=0, le=100, description="Win probability in percent")
    kind: StageKind = Field(
        default="open", description="A deal entering a won or lost stage takes that status"
    )


class StageAdd(StageCreate):
    position: int | None = Field(
        default=None, ge=0, le=49, description="0-based; absent or past the end: last"
    )


class StageUpdate(ApiModel):
    """Only the fields present change; deals already in the stage keep their probability."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    probability: int | None = Field(default=None, ge=0, le=100)
    kind: StageKind | None = None


class PipelineCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, examples=["Enterprise"])
    stages: list[StageCreate] = Field(
        min_length=1,
        max_length=50,
        description="In order",
        examples=[
            [
                {"name": "Qualified", "probability": 20},
                {"name": "Won", "probability": 100, "kind": "won"},
                {"name": "Lost", "probability": 0, "kind": "lost"},
            ]
        ],
    )


class PipelineUpdate(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    stage_order: list[str] | None = Field(
        default=None,
        max_length=50,
        description="Every stage id of the pipeline exactly once, in the new order",
    )


class CurrencyTotal(ApiModel):
    currency: str = Field(examples=["EUR"])
    amount_minor: int = Field(description="Sum of the deals' amounts in minor units")
    count: int


class BoardColumn(ApiModel):
    stage: Stage
    deal_count: int
    totals: list[CurrencyTotal] = Field(
        description="Per currency (amounts in different currencies are never added)"
    )


class PipelineBoard(ApiModel):
    pipeline: Pipeline
    columns: list[BoardColumn]
