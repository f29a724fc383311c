"""AuditService over gRPC, hosted by the encounter process: reads the audit trail (admin scope)."""

from __future__ import annotations

import grpc
from footcds.v1 import audit_pb2, audit_pb2_grpc

from services.knowledge import DISCLAIMER, knowledge_base
from services.platform.audit import DEFAULT_LIST, AuditLog, AuditUnavailable, to_record
from services.platform.errors import InvalidInput, Violation, translate_errors

SERVICE_NAME = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, trail: AuditLog | None = None) -> None:
        self._trail = trail

    @property
    def trail(self) -> AuditLog:
        if self._trail is None:
            self._trail = AuditLog()
        return self._trail

    @translate_errors
    def ListAuditRecords(
        self, request: audit_pb2.ListAuditRecordsRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAuditRecordsResponse:
        try:
            since_ms = request.since.ToMilliseconds() if request.HasField("since") else 0
        except ValueError as exc:  # outside 0001..9999 or nanos out of range
            raise InvalidInput([Violation("since", str(exc))]) from None
        try:
            found, truncated = self.trail.list(since_ms, request.limit or DEFAULT_LIST, request.client_id)
        except AuditUnavailable as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return audit_pb2.ListAuditRecordsResponse(
            records=[to_record(record_id, fields) for record_id, fields in found],
            truncated=truncated, kb_version=knowledge_base().version, disclaimer=DISCLAIMER,
        )


def register(server: grpc.Server) -> None:
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(), server)
