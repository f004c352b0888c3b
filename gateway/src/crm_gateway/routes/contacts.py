"""Contacts: create, read, list and search, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response, Security

from crm.crm_core.v1 import contacts_pb2, records_pb2
from crm_gateway.routes.merge_pointers import pointing_to_survivor
from crm_gateway.routes.records import (
    FILTER_SYNTAX,
    ListSearch,
    from_struct,
    parse_if_match,
    refusing_duplicates,
    search_to_proto,
    to_struct,
)
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import Contact, ContactCreate, ContactList, ContactUpdate
from crm_gateway.schemas.records import SearchRequest
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/contacts", tags=["contacts"])

# What an API key needs here (users are not limited by scopes).
ContactsReader = Annotated[RequestContext, Security(authenticated, scopes=["contacts:read"])]
ContactsWriter = Annotated[RequestContext, Security(authenticated, scopes=["contacts:write"])]


def to_contact(message: contacts_pb2.Contact) -> Contact:
    return Contact(
        id=message.id,
        first_name=message.first_name,
        last_name=message.last_name,
        email=message.email,
        phone=message.phone,
        owner_id=message.owner_id or None,
        version=message.version,
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
        created_by=message.created_by or None,
        updated_by=message.updated_by or None,
        custom_fields=from_struct(message.custom_fields),
        company_ids=list(message.company_ids),
        external_id=message.external_id or None,
    )


def etag(contact: Contact) -> str:
    return f'"{contact.version}"'


def create_request(body: ContactCreate) -> contacts_pb2.CreateContactRequest:
    fields = body.model_dump(exclude_none=True, exclude={"custom_fields", "company_ids"})
    return contacts_pb2.CreateContactRequest(
        **fields,
        custom_fields=to_struct(body.custom_fields),
        company_ids=body.company_ids,
    )


def update_request(contact_id: str, body: ContactUpdate) -> contacts_pb2.UpdateContactRequest:
    fields = body.model_dump(exclude_unset=True, exclude={"custom_fields", "company_ids"})
    if fields.get("owner_id") is None:
        fields.pop("owner_id", None)
    update = contacts_pb2.UpdateContactRequest(id=contact_id, **fields)
    if body.custom_fields:
        update.custom_fields.CopyFrom(to_struct(body.custom_fields))
    if body.company_ids is not None:
        update.company_ids.ids.extend(body.company_ids)
    return update


@router.post(
    "",
    status_code=201,
    summary="Create a contact",
    description="A contact whose email (any case) or phone (E.164) already exists is "
    "refused with 409 and the existing contacts' ids in `candidates`, unless "
    "`allow_duplicate` is true. `company_ids` links the contact to companies, the first "
    "being its primary company.",
    response_model=Contact,
    responses=problems(401, 403, 409, 422),
)
async def create_contact(
    body: ContactCreate, request: Request, response: Response, caller: ContactsWriter
) -> Contact:
    create = create_request(body)
    stub = request.app.state.upstreams.contacts
    message = await refusing_duplicates(
        stub.CreateContact(create), lambda: stub.FindDuplicateContacts(create)
    )
    contact = to_contact(message)
    response.headers["Location"] = f"/v1/contacts/{contact.id}"
    response.headers["ETag"] = etag(contact)
    return contact


@router.get(
    "",
    summary="List contacts, oldest first, with filters and cursor pagination",
    description=FILTER_SYNTAX,
    response_model=ContactList,
    responses=problems(401, 403, 422),
)
async def list_contacts(
    request: Request,
    caller: ContactsReader,
    search: ListSearch,
) -> ContactList:
    return await _search(request, search)


@router.post(
    "/search",
    summary="Search contacts: filter groups, sorts, full text",
    description="AND within a filter group, OR between groups. Filter on standard fields, "
    "`custom_fields.<key>` or a linked company's fields (`companies.industry`): such a "
    "filter holds when any linked company matches. A contact without a value never "
    "matches eq, lt..gte, between, in, contains or starts_with, and always matches neq and "
    "not_in. `contains` and `starts_with` ignore case. Pages with `next_cursor`; a cursor "
    "works only with the sort that produced it.",
    response_model=ContactList,
    responses=problems(401, 403, 422),
)
async def search_contacts(
    body: SearchRequest, request: Request, caller: ContactsReader
) -> ContactList:
    return await _search(request, search_to_proto(body))


async def _search(request: Request, search: records_pb2.SearchRequest) -> ContactList:
    page = await request.app.state.upstreams.contacts.SearchContacts(search)
    return ContactList(
        data=[to_contact(c) for c in page.contacts], next_cursor=page.next_cursor or None
    )


@router.get(
    "/{contact_id}",
    summary="Get a contact",
    description="A contact merged into another answers 404 `merged` with `survivor_id` "
    "and `survivor_url`.",
    response_model=Contact,
    responses=problems(401, 403, 404, 422),
)
async def get_contact(
    contact_id: str, request: Request, response: Response, caller: ContactsReader
) -> Contact:
    call = request.app.state.upstreams.contacts.GetContact(
        contacts_pb2.GetContactRequest(id=contact_id)
    )
    contact = to_contact(await pointing_to_survivor(request, "contacts", contact_id, call))
    response.headers["ETag"] = etag(contact)
    return contact


@router.patch(
    "/{contact_id}",
    summary="Update some fields of a contact",
    description="Send `If-Match` with the contact's ETag to refuse the write (412) "
    "if someone changed the contact since you read it. `custom_fields` merges (null "
    "clears a key); `company_ids`, when present, replaces the contact's companies. A "
    "changed email or phone that another contact has is 409 with `candidates`, unless "
    "`allow_duplicate` is true.",
    response_model=Contact,
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def update_contact(
    contact_id: str,
    body: ContactUpdate,
    request: Request,
    response: Response,
    caller: ContactsWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> Contact:
    update = update_request(contact_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    stub = request.app.state.upstreams.contacts

    async def candidates() -> records_pb2.DuplicateCandidates:
        like = contacts_pb2.CreateContactRequest(email=update.email, phone=update.phone)
        found = await stub.FindDuplicateContacts(like)
        return records_pb2.DuplicateCandidates(ids=[i for i in found.ids if i != contact_id])

    contact = to_contact(await refusing_duplicates(stub.UpdateContact(update), candidates))
    response.headers["ETag"] = etag(contact)
    return contact


@router.delete(
    "/{contact_id}",
    status_code=204,
    summary="Delete a contact",
    responses=problems(401, 403, 404, 422),
)
async def delete_contact(contact_id: str, request: Request, caller: ContactsWriter) -> Response:
    await request.app.state.upstreams.contacts.DeleteContact(
        contacts_pb2.DeleteContactRequest(id=contact_id)
    )
    return Response(status_code=204)
