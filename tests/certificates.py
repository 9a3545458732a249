"""Certificates made for a test: a fresh CA and one certificate it signs, as PEM files."""

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    authority: str  # the CA's certificate, to trust
    certificate: str
    key: str


def issue(directory: Path, name: str) -> Issued:
    """A certificate for the DNS name `name`, signed by a CA made for it alone."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = signed(f"{name} CA", ca_key, ca_key, f"{name} CA", x509.BasicConstraints(True, None))
    leaf = signed(
        name, key, ca_key, f"{name} CA", x509.SubjectAlternativeName([x509.DNSName(name)])
    )
    return Issued(
        write(directory / "ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
        write(directory / "certificate.pem", leaf.public_bytes(serialization.Encoding.PEM)),
        write(
            directory / "key.pem",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
    )


def signed(subject: str, key, issuer_key, issuer: str, extension) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(extension, critical=isinstance(extension, x509.BasicConstraints))
        .sign(issuer_key, hashes.SHA256())
    )


def write(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    path.chmod(0o600)
    return str(path)
