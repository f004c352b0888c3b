"""CompanyService and CustomFieldService servicers: decode, call the service, encode."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import (
    companies_pb2,
    companies_pb2_grpc,
    custom_fields_pb2,
    custom_fields_pb2_grpc,
    records_pb2,
)
from crm_core.companies import mappers as company_mappers
from crm_core.companies import service as companies
from crm_core.custom_fields import mappers as field_mappers
from crm_core.custom_fields import service as custom_fields
from crm_core.entrypoints.bulk import RecordWrites, run_bulk
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_core.records.mappers import search_from_proto

COMPANY_SERVICE = companies_pb2.DESCRIPTOR.services_by_name["CompanyService"].full_name
COMPANY_WRITES = RecordWrites("companies", "company_id", companies, company_mappers)
CUSTOM_FIELD_SERVICE = custom_fields_pb2.DESCRIPTOR.services_by_name["CustomFieldService"].full_name


@dataclass
class CompanyServicer(companies_pb2_grpc.CompanyServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def CreateCompany(  # noqa: N802 - gRPC method name
        self, request: companies_pb2.CreateCompanyRequest, context: ServicerContext
    ) -> companies_pb2.Company:
        authorize(Action.WRITE, "companies")
        async with caller_session(self.factory) as session:
            company = await companies.create(
                session, data=company_mappers.create_from_proto(request)
            )
        return company_mappers.to_proto(company)

    async def GetCompany(  # noqa: N802
        self, request: companies_pb2.GetCompanyRequest, context: ServicerContext
    ) -> companies_pb2.Company:
        authorize(Action.READ, "companies")
        async with caller_session(self.factory) as session:
            company = await companies.get(session, company_id=company_mappers.parse_id(request.id))
        return company_mappers.to_proto(company)

    async def SearchCompanies(  # noqa: N802
        self, request: records_pb2.SearchRequest, context: ServicerContext
    ) -> companies_pb2.SearchCompaniesResponse:
        authorize(Action.READ, "companies")
        async with caller_session(self.factory) as session:
            page = await companies.search_page(session, params=search_from_proto(request))
        return companies_pb2.SearchCompaniesResponse(
            companies=[company_mappers.to_proto(c) for c in page.rows],
            next_cursor=page.next_cursor,
        )

    async def UpdateCompany(  # noqa: N802
        self, request: companies_pb2.UpdateCompanyRequest, context: ServicerContext
    ) -> companies_pb2.Company:
        authorize(Action.WRITE, "companies")
        async with caller_session(self.factory) as session:
            company = await companies.update(
                session,
                company_id=company_mappers.parse_id(request.id),
                data=company_mappers.update_from_proto(request),
            )
        return company_mappers.to_proto(company)

    async def DeleteCompany(  # noqa: N802
        self, request: companies_pb2.DeleteCompanyRequest, context: ServicerContext
    ) -> companies_pb2.DeleteCompanyResponse:
        authorize(Action.DELETE, "companies")
        async with caller_session(self.factory) as session:
            await companies.delete(session, company_id=company_mappers.parse_id(request.id))
        return companies_pb2.DeleteCompanyResponse()

    async def FindDuplicateCompanies(  # noqa: N802
        self, request: companies_pb2.CreateCompanyRequest, context: ServicerContext
    ) -> records_pb2.DuplicateCandidates:
        authorize(Action.READ, "companies")
        async with caller_session(self.factory) as session:
            found = await companies.find_duplicates(session, domain=request.domain)
        return records_pb2.DuplicateCandidates(ids=[str(i) for i in found])

    async def BulkCompanies(  # noqa: N802
        self, request: companies_pb2.BulkCompaniesRequest, context: ServicerContext
    ) -> records_pb2.BulkResponse:
        return await run_bulk(self.factory, COMPANY_WRITES, request)


@dataclass
class CustomFieldServicer(custom_fields_pb2_grpc.CustomFieldServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def CreateCustomField(  # noqa: N802
        self, request: custom_fields_pb2.CreateCustomFieldRequest, context: ServicerContext
    ) -> custom_fields_pb2.CustomField:
        authorize(Action.CONFIGURE, "custom_fields")
        async with caller_session(self.factory) as session:
            definition = await custom_fields.create(
                session, data=field_mappers.create_from_proto(request)
            )
        return field_mappers.to_proto(definition)

    async def ListCustomFields(  # noqa: N802
        self, request: custom_fields_pb2.ListCustomFieldsRequest, context: ServicerContext
    ) -> custom_fields_pb2.ListCustomFieldsResponse:
        authorize(Action.READ, "custom_fields")
        async with caller_session(self.factory) as session:
            found = await custom_fields.list_for(session, object_type=request.object_type)
        return custom_fields_pb2.ListCustomFieldsResponse(
            custom_fields=[field_mappers.to_proto(d) for d in found]
        )

    async def GetCustomField(  # noqa: N802
        self, request: custom_fields_pb2.GetCustomFieldRequest, context: ServicerContext
    ) -> custom_fields_pb2.CustomField:
        authorize(Action.READ, "custom_fields")
        async with caller_session(self.factory) as session:
            definition = await custom_fields.get(
                session,
                object_type=request.object_type,
                definition_id=field_mappers.parse_id(request.id),
            )
        return field_mappers.to_proto(definition)

    async def UpdateCustomField(  # noqa: N802
        self, request: custom_fields_pb2.UpdateCustomFieldRequest, context: ServicerContext
    ) -> custom_fields_pb2.CustomField:
        authorize(Action.CONFIGURE, "custom_fields")
        async with caller_session(self.factory) as session:
            definition = await custom_fields.update(
                session,
                object_type=request.object_type,
                definition_id=field_mappers.parse_id(request.id),
                data=field_mappers.update_from_proto(request),
            )
        return field_mappers.to_proto(definition)

    async def DeleteCustomField(  # noqa: N802
        self, request: custom_fields_pb2.DeleteCustomFieldRequest, context: ServicerContext
    ) -> custom_fields_pb2.DeleteCustomFieldResponse:
        authorize(Action.CONFIGURE, "custom_fields")
        async with caller_session(self.factory) as session:
            await custom_fields.delete(
                session,
                object_type=request.object_type,
                definition_id=field_mappers.parse_id(request.id),
            )
        return custom_fields_pb2.DeleteCustomFieldResponse()
