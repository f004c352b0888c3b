# ruff: noqa: S608 - statements are built from declared identifiers (the targets' tables
# and columns, custom field keys that are slugs); every value is a bind parameter.
"""One chunk, set-based: COPY the cleaned rows into a temporary staging table, match them
to existing records, refuse what the database must judge (duplicates, unique values,
required fields of created records), then INSERT the new records and UPDATE the matched
ones with their field history, all in the caller's transaction.

Statements run on the driver connection of the tenant-bound session: RLS applies to
every real table (the staging table is the transaction's own and dropped at commit).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from crm_core.imports.mapping import CUSTOM_PREFIX, JobMapping
from crm_core.imports.targets import ImportTarget
from crm_core.records.external_ids import EXTERNAL_ID

STAGE = "import_stage"
# jsonb_build_object takes at most 100 arguments: changes are built in groups.
PAIRS_PER_OBJECT = 40
# Natural duplicates the API refuses on create (without allow_duplicate): (table SQL, stage SQL).
DUPLICATE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "contacts": (("lower(t.email)", "lower(s.email)"), ("t.phone_e164", "s.phone_e164")),
    "companies": (("t.domain", "s.domain"),),
}
KEY_SQL = {"email": "lower(t.email)", "domain": "t.domain", EXTERNAL_ID: "t.external_id"}
# Links a snapshot carries: column name -> SQL over the record `t`.
LINKS_SQL = {
    "contacts": {
        "company_ids": "(SELECT coalesce(array_agg(l.company_id ORDER BY l.is_primary DESC,"
        " l.company_id), '{}') FROM contact_companies l WHERE l.contact_id = t.id)"
    },
    "deals": {
        "contact_ids": "(SELECT coalesce(array_agg(l.contact_id ORDER BY l.contact_id), '{}')"
        " FROM deal_contacts l WHERE l.deal_id = t.id)"
    },
}


def _values_sql(expression: str) -> str:
    """The chunk's distinct non-empty values of an expression over the staging table `s`."""
    return (
        f"SELECT coalesce(array_agg(DISTINCT {expression}), '{{}}') FROM {STAGE} s "
        f"WHERE coalesce(({expression})::text, '') <> ''"
    )


@dataclass(frozen=True)
class Refusal:
    """Rows of the chunk the database refuses: `condition` over `s` ($1 the tenant, $4 the
    chunk's values of `values`, when set), with the reason and the field it names."""

    condition: str
    reason: str
    field: str
    values: str | None = None
    # jsonb values come back decoded from the driver and go out as JSON text.
    json_values: bool = False


@dataclass(frozen=True)
class Placement:
    """Where created deals go: the default pipeline's first stage."""

    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    probability: int
    status: str


@dataclass
class MergeOutcome:
    created: int
    updated: int
    # (row number, column header, reason) for rows the database refused.
    refused: list[tuple[int, str, str]]
    created_rows: list[asyncpg.Record]
    updated_rows: list[asyncpg.Record]


class ChunkMerge:
    """The statements of one job, built once from its target and mapping."""

    def __init__(self, target: ImportTarget, mapping: JobMapping, *, returning: list[str]) -> None:
        self.target = target
        self.returning = returning
        self.mapping = mapping
        self.names = [*target.fields, *(d[0] for d in target.derived)]
        self.columns = ["row_number", "folded", "id", "match", *self.names, "custom"]
        self.mapped = set(mapping.standard.values())
        # What a matched record is updated with: the match key matched already (an email
        # differing only in case is the same email), so it is not rewritten.
        self.updated_fields = self.mapped - {mapping.match_key}
        self.custom_keys = [c.key for c in mapping.custom.values()]

    # -- SQL pieces -------------------------------------------------------------------

    def _typed(self, name: str) -> str:
        sql_type = self.target.sql_types.get(name)
        return f"s.{name}::{sql_type}" if sql_type else f"s.{name}"

    def _key_sql(self) -> tuple[str, str]:
        """(the match key over `t`, the cast of the staged value to compare with it)."""
        key = self.mapping.match_key
        if key.startswith(CUSTOM_PREFIX):
            return f"t.custom_fields -> '{key.removeprefix(CUSTOM_PREFIX)}'", "::jsonb"
        return KEY_SQL[key], ""

    def create_table_sql(self) -> str:
        fields = ", ".join(f"{name} text" for name in self.names)
        return (
            f"CREATE TEMP TABLE {STAGE} (row_number bigint, folded bigint[], id uuid, "
            f"match text, {fields}, custom jsonb, target_id uuid, problem text, "
            "problem_field text) ON COMMIT DROP"
        )

    def match_sql(self) -> str:
        key, cast = self._key_sql()
        table = self.target.table
        return (
            f"UPDATE {STAGE} s SET target_id = m.id FROM ("
            f"SELECT DISTINCT ON ({key}) {key} AS k, t.id FROM {table} t "
            f"WHERE t.tenant_id = $1 AND {key} = ANY($2::{cast.strip(':') or 'text'}[]) "
            f"ORDER BY {key}, t.created_at, t.id) m WHERE m.k = s.match{cast}"
        )

    def _holders(self, table_sql: str, array_type: str = "text") -> str:
        """The records (id, value) holding any of the chunk's values ($4, sent as a
        constant array). Never a join the planner could run as a nested loop over the
        table: its statistics lag far behind an import that grows it by a million rows,
        and `lower(email)` cannot use its index under RLS (lower is not LEAKPROOF), so the
        tenant's rows are read once, each probed in a hash of the values."""
        return (
            f"SELECT t.id, {table_sql} AS v FROM {self.target.table} t WHERE t.tenant_id = $1 "
            f"AND {table_sql} = ANY($4::{array_type}[])"
        )

    def refusals(self) -> list[Refusal]:
        """(condition over `s`, reason, field) in the order they are judged."""
        label = self.target.name.removesuffix("s").replace("companie", "company")
        table = self.target.table
        creating = "s.target_id IS NULL"
        checks: list[Refusal] = []
        key = self.mapping.match_key
        if self.mapping.mode == "update":
            checks.append(Refusal(creating, f"no {label} with this {key}", key))
        if self.mapping.mode == "create" and key:
            checks.append(
                Refusal("s.target_id IS NOT NULL", f"a {label} with this {key} exists", key)
            )
        if self.mapping.mode != "update":
            empty = " AND ".join(f"coalesce(s.{n}, '') = ''" for n in self.target.needs_one_of)
            checks.append(Refusal(f"{creating} AND {empty}", self.target.needs_message, ""))
            for name in self.target.required:
                checks.append(
                    Refusal(f"{creating} AND s.{name} IS NULL", f"{name} is required", name)
                )
            for custom_key in self.mapping.required_custom:
                checks.append(
                    Refusal(
                        f"{creating} AND NOT (s.custom ? '{custom_key}')",
                        f"{CUSTOM_PREFIX}{custom_key} is required",
                        CUSTOM_PREFIX + custom_key,
                    )
                )
            for table_sql, stage_sql in DUPLICATE_RULES.get(table, ()):
                column = stage_sql.split(".", 1)[1].strip(")")
                if column not in self.mapped and column != "phone_e164":
                    continue
                checks.append(
                    Refusal(
                        f"{creating} AND {stage_sql} IN "
                        f"(SELECT v FROM ({self._holders(table_sql)}) h)",
                        f"a {label} with this {column.removesuffix('_e164')} exists",
                        column.removesuffix("_e164"),
                        values=stage_sql,
                    )
                )
        self_id = "coalesce(s.target_id, s.id)"
        if EXTERNAL_ID in self.mapped:
            checks.append(
                Refusal(
                    "s.external_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
                    f"({self._holders('t.external_id')}) h "
                    f"WHERE h.v = s.external_id AND h.id <> {self_id})",
                    f"another {label} has this external_id",
                    EXTERNAL_ID,
                    values="s.external_id",
                )
            )
        for custom in self.mapping.custom.values():
            if not custom.unique:
                continue
            k = custom.key
            holders = self._holders(f"t.custom_fields -> '{k}'", "jsonb")
            checks.append(
                Refusal(
                    f"s.custom ? '{k}' AND EXISTS (SELECT 1 FROM ({holders}) h "
                    f"WHERE h.v = s.custom -> '{k}' AND h.id <> {self_id})",
                    f"{CUSTOM_PREFIX}{k} must be unique; another {label} has this value",
                    CUSTOM_PREFIX + k,
                    values=f"s.custom -> '{k}'",
                    json_values=True,
                )
            )
        return checks

    def _snapshot_columns(self) -> str:
        """What the events need of each written record (its snapshot's columns, links)."""
        links = LINKS_SQL.get(self.target.table, {})
        columns = [f"t.{name}" for name in self.returning if name not in links]
        columns += [f"{sql} AS {name}" for name, sql in links.items() if name in self.returning]
        return ", ".join(columns)

    def insert_sql(self, placement: Placement | None) -> str:
        table = self.target.table
        defaults = self.target.create_defaults
        columns = ["tenant_id", "id"]
        values = ["$1", "s.id"]
        for name in self.names:
            columns.append(name)
            if name == EXTERNAL_ID:
                values.append("s.external_id")
            elif name in self.target.sql_types:
                default = defaults.get(name)
                fallback = f"'{default}'" if default is not None else "NULL"
                values.append(f"coalesce(s.{name}, {fallback})::{self.target.sql_types[name]}")
            else:
                values.append(f"coalesce(s.{name}, '{defaults.get(name, '')}')")
        columns += ["custom_fields", "owner_id", "created_by", "updated_by", "version"]
        values += ["$4::jsonb || s.custom", "$2", "$2", "$2", "1"]
        columns += ["created_at", "updated_at"]
        values += ["$3", "$3"]
        if placement is not None:
            columns += ["pipeline_id", "stage_id", "probability", "status", "stage_entered_at"]
            values += ["$5", "$6", "$7", "$8", "$3"]
        insert = (
            f"INSERT INTO {table} AS t ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {STAGE} s WHERE s.problem IS NULL AND s.target_id IS NULL "
            f"RETURNING {self._snapshot_columns()}"
        )
        if placement is None:
            return insert
        return (
            f"WITH created AS ({insert}), history AS (INSERT INTO deal_stage_history "
            "(tenant_id, id, deal_id, from_stage_id, to_stage_id, moved_at, moved_by, "
            "time_in_previous_stage_seconds) SELECT $1, gen_random_uuid(), id, NULL, stage_id, "
            "$3, $2, NULL FROM created) SELECT * FROM created"
        )

    def _change_pairs(self) -> list[str]:
        pairs = []
        for name in self.target.fields:
            if name not in self.updated_fields:
                continue
            new = self._typed(name)
            pairs.append(
                f"'{name}', CASE WHEN s.{name} IS NOT NULL AND {new} IS DISTINCT FROM t.{name} "
                f"THEN jsonb_build_array(t.{name}, {new}) END"
            )
        for k in self.custom_keys:
            pairs.append(
                f"'{CUSTOM_PREFIX}{k}', CASE WHEN s.custom ? '{k}' AND s.custom -> '{k}' "
                f"IS DISTINCT FROM t.custom_fields -> '{k}' THEN "
                f"jsonb_build_array(t.custom_fields -> '{k}', s.custom -> '{k}') END"
            )
        groups = [pairs[i : i + PAIRS_PER_OBJECT] for i in range(0, len(pairs), PAIRS_PER_OBJECT)]
        return [f"jsonb_build_object({', '.join(group)})" for group in groups] or ["'{}'::jsonb"]

    def update_sql(self) -> str:
        table = self.target.table
        changes = "jsonb_strip_nulls(" + " || ".join(self._change_pairs()) + ")"
        sets = []
        for name in self.names:
            source = next((d[1] for d in self.target.derived if d[0] == name), name)
            if source not in self.updated_fields:
                continue
            new = self._typed(name)
            sets.append(f"{name} = CASE WHEN s.{source} IS NOT NULL THEN {new} ELSE t.{name} END")
        sets += [
            "custom_fields = t.custom_fields || s.custom",
            "version = t.version + 1",
            "updated_at = $3",
            "updated_by = $2",
        ]
        return (
            f"WITH changes AS (SELECT t.id, {changes} AS changes FROM {table} t "
            f"JOIN {STAGE} s ON s.target_id = t.id "
            "WHERE t.tenant_id = $1 AND s.problem IS NULL), "
            "history AS (INSERT INTO record_changes (tenant_id, id, record_type, record_id, "
            "changed_at, changed_by, changes) "
            f"SELECT $1, gen_random_uuid(), '{table}', id, $3, $2, changes FROM changes "
            "WHERE changes <> '{}'::jsonb) "
            f"UPDATE {table} t SET {', '.join(sets)} FROM {STAGE} s, changes c "
            "WHERE s.target_id = t.id AND c.id = t.id AND c.changes <> '{}'::jsonb "
            f"AND s.problem IS NULL RETURNING {self._snapshot_columns()}, c.changes AS changes"
        )

    # -- running ----------------------------------------------------------------------

    async def run(
        self,
        connection: asyncpg.Connection,
        *,
        tenant_id: uuid.UUID,
        actor: uuid.UUID | None,
        now: datetime,
        records: list[tuple[Any, ...]],
        placement: Placement | None,
    ) -> MergeOutcome:
        await connection.execute(self.create_table_sql())
        await connection.copy_records_to_table(STAGE, records=records, columns=self.columns)
        await connection.execute(f"ANALYZE {STAGE}")
        if self.mapping.match_key:
            matches = await connection.fetchval(_values_sql("s.match"))
            await connection.execute(self.match_sql(), tenant_id, matches)
        for refusal in self.refusals():
            # $1 (the tenant) is typed even where the condition does not read it.
            sql = (
                f"UPDATE {STAGE} s SET problem = $2::text, problem_field = $3::text "
                f"WHERE s.problem IS NULL AND $1::uuid IS NOT NULL AND {refusal.condition}"
            )
            args: list[Any] = [tenant_id, refusal.reason, refusal.field]
            if refusal.values is not None:
                values = await connection.fetchval(_values_sql(refusal.values))
                if not values:
                    continue
                encode = json.dumps if refusal.json_values else str
                args.append([encode(v) for v in values])
            await connection.execute(sql, *args)
        refused = await connection.fetch(
            f"SELECT row_number, folded, problem, problem_field FROM {STAGE} "
            "WHERE problem IS NOT NULL"
        )
        # A row folded into a later one (same record) counts as an update of that record:
        # applied one after the other, the first would create it and the next update it.
        counts = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE target_id IS NULL) AS created, "
            "count(*) FILTER (WHERE target_id IS NOT NULL) AS matched, "
            f"coalesce(sum(cardinality(folded)), 0) AS folded FROM {STAGE} WHERE problem IS NULL"
        )
        defaults = json.dumps(self.mapping.defaults)
        args = [tenant_id, actor, now, defaults]
        if placement is not None:
            args += [
                placement.pipeline_id,
                placement.stage_id,
                placement.probability,
                placement.status,
            ]
        created_rows = await connection.fetch(self.insert_sql(placement), *args)
        updated_rows: list[asyncpg.Record] = []
        if self.mapping.mode != "create" and counts["matched"]:
            updated_rows = await connection.fetch(self.update_sql(), tenant_id, actor, now)
        problems = []
        for row in refused:
            column = self.mapping.column_of(row["problem_field"])
            for number in [row["row_number"], *row["folded"]]:
                problems.append((number, column, row["problem"]))
        return MergeOutcome(
            created=counts["created"],
            updated=counts["matched"] + counts["folded"],
            refused=problems,
            created_rows=created_rows,
            updated_rows=updated_rows,
        )
