"""`make certs` (`python -m devtools.certs DIR`): a development CA and its certificates.

Writes, into DIR (``.certs/`` is gitignored; never commit it):

* ``ca.pem`` / ``ca-key.pem`` - a development certificate authority;
* ``server.pem`` / ``server-key.pem`` - one server certificate for every FootCDS service, with
  subject alternative names localhost, 127.0.0.1 and the docker-compose service names;
* ``<client>.pem`` / ``<client>-key.pem`` for the clients ``ehr`` and ``worker``: their common
  name is the identity the servers map to scopes (``certificates`` in the tokens file).

Keys are ECDSA P-256 (fast to make, small handshakes), written 0600. A complete set is
kept unless ``--force`` (a running suite keeps trusting the CA it started with); an
incomplete one is replaced as a whole, with a new CA.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost", "encounter", "intake", "differential", "workup", "treatment")
SERVER_IPS = ("127.0.0.1", "::1")
CLIENTS = ("ehr", "worker")
VALID_DAYS = 365


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FootCDS development"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _builder(
    subject: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _leaf(
    out: Path, stem: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
    *, common_name: str, server: bool, names: Sequence[str] = (), ips: Sequence[str] = (),
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(common_name, ca_cert.subject, key.public_key(), VALID_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if not server:
        alt.append(x509.DNSName(common_name))
    builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(out / f"{stem}-key.pem", key)
    (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def generate(
    out: Path, *, clients: Sequence[str] = CLIENTS, extra_names: Sequence[str] = (), force: bool = False
) -> Path:
    """Create the CA, the server certificate and the client certificates in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    if not force and (out / "ca.pem").exists() and (out / "server.pem").exists():
        missing = [c for c in clients if not (out / f"{c}.pem").exists()]
        if not missing:
            return out
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        _builder("FootCDS development CA", _name("FootCDS development CA"), ca_key.public_key(), VALID_DAYS * 2)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(out / "ca-key.pem", ca_key)
    (out / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _leaf(out, "server", ca_key, ca_cert, common_name="footcds-server", server=True,
          names=[*SERVER_NAMES, *extra_names], ips=SERVER_IPS)
    for client in clients:
        _leaf(out, client, ca_key, ca_cert, common_name=client, server=False)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.certs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, nargs="?", default=Path(".certs"))
    parser.add_argument("--client", action="append", default=[], help="extra client certificate (common name)")
    parser.add_argument("--name", action="append", default=[], help="extra server DNS name")
    parser.add_argument("--force", action="store_true", help="replace existing files (a new CA)")
    args = parser.parse_args(argv)
    out = generate(args.dir, clients=[*CLIENTS, *args.client], extra_names=args.name, force=args.force)
    for path in sorted(out.glob("*.pem")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
