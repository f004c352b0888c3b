"""Notes: sanitized rich text attached to records."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request, Response, Security

from crm.crm_core.v1 import engagements_pb2 as pb
from crm_gateway.routes.record_items import RECORD_FILTER, meta_fields, record_param, refs_to_proto
from crm_gateway.routes.records import etag, parse_if_match
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.engagements import Note, NoteCreate, NoteList, NoteUpdate
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext

router = PrefixedRouter(prefix="/v1/notes", tags=["notes"])

NotesReader = Annotated[RequestContext, Security(authenticated, scopes=["notes:read"])]
NotesWriter = Annotated[RequestContext, Security(authenticated, scopes=["notes:write"])]


def to_note(message: pb.Note, response: Response | None = None) -> Note:
    note = Note(**meta_fields(message.meta), body_html=message.body_html)
    if response is not None:
        response.headers["ETag"] = etag(note.version)
    return note


@router.post(
    "",
    status_code=201,
    summary="Write a note on records",
    description="The HTML is sanitized before it is stored: only formatting tags and "
    "http(s)/mailto links survive. A record of another tenant, or none, is 422.",
    response_model=Note,
    responses=problems(401, 403, 422),
)
async def create_note(
    body: NoteCreate, request: Request, response: Response, caller: NotesWriter
) -> Note:
    create = pb.CreateNoteRequest(
        body_html=body.body_html, records=refs_to_proto(body.records), owner_id=body.owner_id or ""
    )
    note = to_note(await request.app.state.upstreams.notes.CreateNote(create), response)
    response.headers["Location"] = f"/v1/notes/{note.id}"
    return note


@router.get(
    "",
    summary="List notes, newest first",
    response_model=NoteList,
    responses=problems(401, 403, 404, 422),
)
async def list_notes(
    request: Request,
    caller: NotesReader,
    record: Annotated[str | None, Query(max_length=200, description=RECORD_FILTER)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> NoteList:
    query = pb.ListItemsRequest(limit=limit, cursor=cursor or "")
    ref = record_param(record)
    if ref is not None:
        query.record.CopyFrom(ref)
    page = await request.app.state.upstreams.notes.ListNotes(query)
    return NoteList(data=[to_note(n) for n in page.notes], next_cursor=page.next_cursor or None)


@router.get(
    "/{note_id}", summary="Get a note", response_model=Note, responses=problems(401, 403, 404, 422)
)
async def get_note(note_id: str, request: Request, response: Response, caller: NotesReader) -> Note:
    return to_note(await request.app.state.upstreams.notes.GetNote(pb.ItemId(id=note_id)), response)


@router.patch(
    "/{note_id}",
    summary="Edit a note or the records it is on",
    description="Send `If-Match` with the note's ETag to refuse a stale write (412).",
    response_model=Note,
    responses=problems(401, 403, 404, 412, 422),
)
async def update_note(
    note_id: str,
    body: NoteUpdate,
    request: Request,
    response: Response,
    caller: NotesWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> Note:
    update = pb.UpdateNoteRequest(id=note_id)
    if body.body_html is not None:
        update.body_html = body.body_html
    if "owner_id" in body.model_fields_set:
        update.owner_id = body.owner_id or ""
    if body.records is not None:
        update.records.records.extend(refs_to_proto(body.records))
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    return to_note(await request.app.state.upstreams.notes.UpdateNote(update), response)


@router.delete(
    "/{note_id}",
    status_code=204,
    summary="Delete a note",
    description="The records it was on stay.",
    responses=problems(401, 403, 404, 422),
)
async def delete_note(note_id: str, request: Request, caller: NotesWriter) -> Response:
    await request.app.state.upstreams.notes.DeleteNote(pb.ItemId(id=note_id))
    return Response(status_code=204)
