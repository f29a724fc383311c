"""Who may call what: one server interceptor shared by every FootCDS service.

A caller proves who it is with a bearer token (``authorization: Bearer <token>``) or, under
mutual TLS, with its client certificate. The identity maps to a client id and scopes:

* ``assess``       - Assess and the single-case domain RPCs the worker calls for it;
* ``screen``       - SubmitScreening and the batch domain RPCs;
* ``results:read`` - watching and reading screening results;
* ``admin``        - the audit trail;
* ``tablet``       - a clinic intake tablet on the HTTP gateway: the adaptive intake only;
* ``staff``        - clinic staff on the HTTP gateway: the day's completed intakes.

``tablet`` and ``staff`` open no gRPC method: the gateway checks them at its HTTP edge and
calls the suite with its own service identity (services/gateway/credentials.py).

No credentials -> UNAUTHENTICATED; a scope the client lacks -> PERMISSION_DENIED. Health and
reflection stay open (load balancers and ``grpcurl list`` need them; they carry no data).
A method missing from ``METHOD_SCOPES`` needs ``admin``: new RPCs are closed until mapped.

Tokens are never stored: the tokens file holds ``sha256(token)`` per client, so a leaked
file grants nothing, and a presented token is compared against every entry with
``hmac.compare_digest`` (constant time, no early exit). The file is re-read when it changes,
so issuing or revoking a client needs no restart (``python -m services.platform.auth``).
"""

from services.platform.auth.admin import dotenv, issue, main, revoke, trust_certificate
from services.platform.auth.client import BearerToken, read_secret, service_token
from services.platform.auth.credentials import (
    ADMIN,
    ANONYMOUS,
    ASSESS,
    METHOD_SCOPES,
    RESULTS_READ,
    SCOPES,
    SCREEN,
    STAFF,
    TABLET,
    Credentials,
    CredentialsError,
    CredentialStore,
    Principal,
    required_scope,
    token_hash,
)
from services.platform.auth.interceptor import AuthInterceptor, current_principal

__all__ = [
    "ADMIN", "ANONYMOUS", "ASSESS", "METHOD_SCOPES", "RESULTS_READ", "SCOPES", "SCREEN", "STAFF", "TABLET",
    "AuthInterceptor", "BearerToken", "CredentialStore", "Credentials", "CredentialsError", "Principal",
    "current_principal", "dotenv", "issue", "main", "read_secret", "required_scope", "revoke",
    "service_token", "token_hash", "trust_certificate",
]
