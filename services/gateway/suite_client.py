"""A small typed gRPC client from the gateway to the suite (grpc.aio, one channel per service).

Every call carries a bearer token chosen per call (the caller's, or the gateway's own service
identity: services/gateway/credentials.py) and a deadline. A gRPC failure becomes
``SuiteError`` with the HTTP status a browser or EHR should see and the BadRequest field
violations, so routes can name the offending item of *their* request in an OperationOutcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from footcds.v1 import (
    common_pb2,
    differential_pb2,
    differential_pb2_grpc,
    encounter_pb2,
    encounter_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.platform.config import Settings
from services.platform.errors import Violation, violations_of
from services.platform.tls import channel_credentials

# gRPC status -> the HTTP status the gateway answers with.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    # The gateway's own identity was refused by the suite: a deployment fault, not the caller's.
    grpc.StatusCode.UNAUTHENTICATED: 502,
    grpc.StatusCode.PERMISSION_DENIED: 502,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.CANCELLED: 503,
}


@dataclass
class SuiteError(Exception):
    """A suite call failed; ``http_status`` is what to answer, ``violations`` name bad fields."""

    rpc: str
    code: grpc.StatusCode
    message: str
    violations: list[Violation] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 502)

    def __str__(self) -> str:
        return f"{self.rpc}: {self.code.name}: {self.message}"


class SuiteClient:
    """Channels to intake, differential and encounter; ``close()`` when the app stops."""

    def __init__(self, cfg: Settings) -> None:
        self.cfg = cfg
        self.timeout = cfg.gateway_call_timeout_seconds
        creds = channel_credentials(cfg)
        options = [("grpc.max_receive_message_length", cfg.max_message_bytes)]
        self.addresses = {"intake": cfg.intake_addr, "differential": cfg.differential_addr,
                          "encounter": cfg.encounter_addr}
        self._channels = {
            name: grpc.aio.secure_channel(addr, creds, options=options) if creds is not None
            else grpc.aio.insecure_channel(addr, options=options)
            for name, addr in self.addresses.items()
        }
        self.intake = intake_pb2_grpc.IntakeServiceStub(self._channels["intake"])
        self.differential = differential_pb2_grpc.DifferentialServiceStub(self._channels["differential"])
        self.encounter = encounter_pb2_grpc.EncounterServiceStub(self._channels["encounter"])

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def _call(self, rpc: str, method: Any, request: Any, token: str, timeout: float | None) -> Any:
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        try:
            return await method(request, timeout=timeout or self.timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            raise SuiteError(rpc, exc.code(), exc.details() or "", violations_of(exc)) from None

    # --- the RPCs the gateway uses ---------------------------------------------------------

    async def get_intake_form(
        self, token: str, audience: int = intake_pb2.FORM_AUDIENCE_PATIENT, timeout: float | None = None
    ) -> intake_pb2.GetIntakeFormResponse:
        request = intake_pb2.GetIntakeFormRequest(audience=audience)  # type: ignore[arg-type]
        reply: intake_pb2.GetIntakeFormResponse = await self._call(
            "GetIntakeForm", self.intake.GetIntakeForm, request, token, timeout)
        return reply

    async def normalize_intake(
        self, token: str, request: intake_pb2.NormalizeIntakeRequest, timeout: float | None = None
    ) -> intake_pb2.NormalizeIntakeResponse:
        reply: intake_pb2.NormalizeIntakeResponse = await self._call(
            "NormalizeIntake", self.intake.NormalizeIntake, request, token, timeout)
        return reply

    async def next_question(
        self,
        token: str,
        patient: common_pb2.PatientContext,
        evidence: Sequence[common_pb2.Evidence],
        *,
        exclude: Sequence[str] = (),
        prioritize_dont_miss: bool = True,
        timeout: float | None = None,
    ) -> differential_pb2.NextQuestionResponse:
        request = differential_pb2.NextQuestionRequest(
            patient=patient, evidence=list(evidence), exclude_finding_ids=list(exclude),
            prioritize_dont_miss=prioritize_dont_miss,
        )
        reply: differential_pb2.NextQuestionResponse = await self._call(
            "NextQuestion", self.differential.NextQuestion, request, token, timeout)
        return reply

    async def assess(
        self, token: str, request: encounter_pb2.AssessRequest, timeout: float | None = None
    ) -> encounter_pb2.AssessResponse:
        reply: encounter_pb2.AssessResponse = await self._call(
            "Assess", self.encounter.Assess, request, token, timeout)
        return reply

    async def health(self, timeout: float = 2.0) -> dict[str, bool]:
        """grpc.health.v1 of each service the gateway calls (no token needed)."""
        out: dict[str, bool] = {}
        for name, channel in self._channels.items():
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
                out[name] = reply.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.aio.AioRpcError:
                out[name] = False
        return out
