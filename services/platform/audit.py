"""The audit trail: one append-only record per Assess, screening call and result read.

A record says who (client id and how it authenticated), when, which RPC, with which status,
the knowledge-base version, the SHA-256 of the serialized request (and of the opaque patient
reference), and the answer's triage and leading conditions. It never holds a patient field:
the request is kept only as its hash, so a record proves what was asked without repeating it.

Records go to a Redis stream (``FOOTCDS_AUDIT_STREAM``) with XADD: append-only, ordered,
timestamped ids. Retention: the newest ``FOOTCDS_AUDIT_MAX_RECORDS`` (MAXLEN) and nothing older
than ``FOOTCDS_AUDIT_RETENTION_DAYS`` (MINID; 0 = no age limit). The interceptor writes the
record before a unary answer leaves; if it cannot, the answer is withheld (UNAVAILABLE):
no unaudited answers. Which RPCs are audited, and what each record takes from the request
and response, is the data in ``AUDITED``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import redis
from footcds.v1 import audit_pb2, common_pb2
from google.protobuf.message import Message

from services.platform.auth import current_principal
from services.platform.config import Settings, settings
from services.platform.interceptors import Behavior, BehaviorInterceptor, iterate, status_of
from services.platform.redis_client import redis_client

log = logging.getLogger("footcds.audit")
MAX_LIST = 1000
DEFAULT_LIST = 100


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    """What one audited call contributes, filled from its request and response."""

    rpc: str
    request_sha256: str = ""
    patient_ref_sha256: str = ""
    kb_version: str = ""
    triage: int = 0
    leading: list[str] = field(default_factory=list)
    screening_id: str = ""
    count: int = 0

    def fields(self, client_id: str, auth: str, code: str) -> dict[str, str]:
        return {
            "client_id": client_id, "auth": auth, "rpc": self.rpc, "code": code,
            "request_sha256": self.request_sha256, "patient_ref_sha256": self.patient_ref_sha256,
            "kb_version": self.kb_version, "triage": str(self.triage), "leading": ",".join(self.leading),
            "screening_id": self.screening_id, "count": str(self.count),
        }


# --- what each audited RPC records (request -> entry, response -> entry) ----------------


def _assess_request(entry: Entry, request: Any) -> None:
    if request.patient.patient_ref:
        entry.patient_ref_sha256 = sha256_hex(request.patient.patient_ref.encode())


def _assess_response(entry: Entry, response: Any) -> None:
    entry.triage = int(response.assessment.triage.level)
    entry.leading = [c.condition_id for c in response.assessment.differential.conditions[:3]]


def _screening_request(entry: Entry, request: Any) -> None:
    entry.screening_id = request.screening_id


def _submit_request(entry: Entry, request: Any) -> None:
    entry.count = len(request.athletes)


def _submit_response(entry: Entry, response: Any) -> None:
    entry.screening_id = response.screening_id


def _summary_response(entry: Entry, response: Any) -> None:
    entry.leading = [c.condition_id for c in response.summary.top_conditions[:3]]
    entry.count = response.summary.total


def _count_response(entry: Entry, _response: Any) -> None:
    entry.count += 1


def _audit_list_response(entry: Entry, response: Any) -> None:
    entry.count = len(response.records)


Hook = Callable[[Entry, Any], None]


@dataclass(frozen=True)
class Audited:
    on_request: Hook | None = None
    on_response: Hook | None = None


AUDITED: Mapping[str, Audited] = {
    "/footcds.v1.EncounterService/Assess": Audited(_assess_request, _assess_response),
    "/footcds.v1.EncounterService/SubmitScreening": Audited(_submit_request, _submit_response),
    "/footcds.v1.EncounterService/WatchScreening": Audited(_screening_request),
    "/footcds.v1.EncounterService/GetScreeningResults": Audited(_screening_request, _count_response),
    "/footcds.v1.EncounterService/GetScreeningSummary": Audited(_screening_request, _summary_response),
    "/footcds.v1.AuditService/ListAuditRecords": Audited(None, _audit_list_response),
}


# --- the stream ---------------------------------------------------------------------------


class AuditUnavailable(RuntimeError):
    """The record could not be written."""


class AuditLog:
    """Append to and read from the audit stream."""

    TRIM_EVERY_S = 60.0  # the age trim runs at most this often

    def __init__(self, cfg: Settings | None = None, client: redis.Redis | None = None) -> None:
        cfg = cfg or settings()
        self.key = cfg.audit_stream
        self.max_records = cfg.audit_max_records
        self.retention_ms = int(cfg.audit_retention_days * 86_400_000)
        self._redis = client or redis_client(
            cfg, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
        )
        self._trimmed = -self.TRIM_EVERY_S
        self.trim_every_s = self.TRIM_EVERY_S
        self._lock = threading.Lock()

    def append(self, fields: Mapping[str, str]) -> str:
        """XADD with MAXLEN retention (and MINID by age, at most once a minute); returns the id."""
        try:
            entry: dict[Any, Any] = dict(fields)
            # Exact trimming: the retention promise is a number, not "about" one; at audit rates
            # (one XADD per answered call) the cost is one entry removed per entry added.
            record_id = cast(str, self._redis.xadd(self.key, entry, maxlen=self.max_records, approximate=False))
            now = time.monotonic()
            if self.retention_ms and now - self._trimmed >= self.trim_every_s:
                with self._lock:
                    self._trimmed = now
                oldest = int(time.time() * 1000) - self.retention_ms
                self._redis.xtrim(self.key, minid=f"{oldest}-0", approximate=False)
        except redis.RedisError as exc:
            raise AuditUnavailable(f"audit trail unavailable: {type(exc).__name__}") from None
        return record_id

    def list(
        self, since_ms: int = 0, limit: int = DEFAULT_LIST, client_id: str = ""
    ) -> tuple[list[tuple[str, dict[str, str]]], bool]:
        """Newest first: up to ``limit`` records at or after ``since_ms``; and whether more matched."""
        limit = min(max(limit, 1), MAX_LIST)
        low = f"{since_ms}-0" if since_ms > 0 else "-"
        out: list[tuple[str, dict[str, str]]] = []
        high = "+"
        page = limit + 1 if not client_id else 500
        for _ in range(200):  # bounded scan when filtering by client
            try:
                batch = cast(
                    list[tuple[str, dict[str, str]]], self._redis.xrevrange(self.key, max=high, min=low, count=page)
                )
            except redis.RedisError as exc:
                raise AuditUnavailable(f"audit trail unavailable: {type(exc).__name__}") from None
            for record_id, fields in batch:
                if not client_id or fields.get("client_id") == client_id:
                    out.append((record_id, fields))
                    if len(out) > limit:
                        return out[:limit], True
            if len(batch) < page:
                break
            ms, seq = batch[-1][0].split("-")
            high = f"{ms}-{int(seq) - 1}" if int(seq) > 0 else f"{int(ms) - 1}"
        return out, False


def to_record(record_id: str, fields: Mapping[str, str]) -> audit_pb2.AuditRecord:
    record = audit_pb2.AuditRecord(
        record_id=record_id, client_id=fields.get("client_id", ""), auth=fields.get("auth", ""),
        rpc=fields.get("rpc", ""), code=fields.get("code", ""), request_sha256=fields.get("request_sha256", ""),
        patient_ref_sha256=fields.get("patient_ref_sha256", ""), answered_kb_version=fields.get("kb_version", ""),
        triage=cast(common_pb2.TriageLevel, int(fields.get("triage", "0") or 0)),
        screening_id=fields.get("screening_id", ""),
        count=int(fields.get("count", "0") or 0),
    )
    record.leading_conditions.extend(c for c in fields.get("leading", "").split(",") if c)
    record.time.FromMilliseconds(int(record_id.split("-")[0]))
    return record


# --- the interceptor ------------------------------------------------------------------


class AuditInterceptor(BehaviorInterceptor):
    """Writes one record per audited call; installed inside auth (it needs the caller).

    ``kb_version`` is the knowledge base the service answers from, recorded when the answer
    does not carry one (a refused call).  It is passed in by the service's entry point, so
    platform code does not depend on the knowledge base.
    """

    def __init__(self, cfg: Settings | None = None, log_: AuditLog | None = None, *, kb_version: str = "") -> None:
        self._cfg = cfg or settings()
        self._log = log_
        self._kb_version = kb_version
        self._lock = threading.Lock()

    @property
    def trail(self) -> AuditLog:
        with self._lock:  # lazily: services with no audited RPC never connect to Redis
            if self._log is None:
                self._log = AuditLog(self._cfg)
            return self._log

    def _write(self, entry: Entry, context: grpc.ServicerContext, error: BaseException | None) -> None:
        principal = current_principal()
        client_id, via = (principal.client_id, principal.via) if principal else ("unknown", "none")
        code = status_of(context, error)
        entry.kb_version = entry.kb_version or self._kb_version
        self.trail.append(entry.fields(client_id, via, code.name))
        log.info("audited", extra={"rpc": entry.rpc, "client_id": client_id, "code": code.name,
                                   "request_hash": entry.request_sha256[:16]})

    def _start(self, method: str, spec: Audited, request: Any) -> Entry:
        entry = Entry(method)
        if isinstance(request, Message):
            entry.request_sha256 = sha256_hex(request.SerializeToString(deterministic=True))
            if spec.on_request is not None:
                spec.on_request(entry, request)
        return entry

    def _seen(self, entry: Entry, spec: Audited, response: Any) -> None:
        entry.kb_version = getattr(response, "kb_version", "") or entry.kb_version
        if spec.on_response is not None:
            spec.on_response(entry, response)

    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        spec = AUDITED.get(method)
        if spec is None:
            return behavior

        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                entry = self._start(method, spec, request)
                error: BaseException | None = None
                try:
                    for response in iterate(behavior, request, context):
                        self._seen(entry, spec, response)
                        yield response
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    try:
                        self._write(entry, context, error)
                    except AuditUnavailable:  # the stream already left; record the gap in the log
                        log.error("audit record lost", extra={"rpc": method, "error_type": "AuditUnavailable"})

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            entry = self._start(method, spec, request)
            try:
                response = behavior(request, context)
            except BaseException as exc:
                try:
                    self._write(entry, context, exc)
                except AuditUnavailable:
                    log.error("audit record lost", extra={"rpc": method, "error_type": "AuditUnavailable"})
                raise
            self._seen(entry, spec, response)
            try:
                self._write(entry, context, None)
            except AuditUnavailable as exc:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"{exc}; the answer is withheld")
            return response

        return unary

