"""A table source's server is chosen by an editor: libpq lends it nothing of this machine's,
neither a password (PGPASSWORD, ~/.pgpass) nor a client certificate (PGSSLCERT,
~/.postgresql) nor GSSAPI, whatever the environment asks for."""

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from tables.connectors import ReadFailed, connector_for
from tests.certificates import issue

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104
AUTHENTICATION_CLEARTEXT_PASSWORD = b"R" + (8).to_bytes(4) + (3).to_bytes(4)


class Impostor:
    """Speaks just enough of PostgreSQL's protocol to take TLS when offered (asking for a
    client certificate), then ask for a password in clear text; keeps what it is given."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.passwords: list[bytes] = []
        self.client_certificates: list[dict | None] = []
        self.gssapi_requests = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                self.answer(connection)

    def answer(self, connection: socket.socket) -> None:
        while (code := int.from_bytes(body(connection)[:4])) in (SSL_REQUEST, GSSENC_REQUEST):
            if code == SSL_REQUEST and self.tls:
                connection.sendall(b"S")
                connection = self.tls.wrap_socket(connection, server_side=True)
                self.client_certificates.append(connection.getpeercert() or None)
                continue
            self.gssapi_requests += code == GSSENC_REQUEST
            connection.sendall(b"N")
        connection.sendall(AUTHENTICATION_CLEARTEXT_PASSWORD)
        if connection.recv(1) == b"p":
            self.passwords.append(body(connection))

    def close(self) -> None:
        self.server.close()


def body(connection: socket.socket) -> bytes:
    length = int.from_bytes(exactly(connection, 4))
    return exactly(connection, max(length - 4, 0))


def exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := connection.recv(size - len(data))):
        data += chunk
    return data


def attempt(port: int, credentials: str = "reader", query: str = "") -> str:
    url = f"postgresql://{credentials}@127.0.0.1:{port}/warehouse{query}"
    try:
        return connector_for(url).check(url)
    except ReadFailed as failure:
        return failure.kind


@pytest.fixture
def impostor() -> Iterator[Impostor]:
    server = Impostor()
    yield server
    server.close()


@pytest.fixture
def tls_impostor(tmp_path) -> Iterator[tuple[Impostor, str]]:
    """An impostor with TLS that asks for a client certificate, and the certificate and key
    that would identify this machine to it."""
    server_files, client_files = issue(tmp_path / "server", "db"), issue(tmp_path / "me", "me")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_files.certificate, server_files.key)
    context.load_verify_locations(client_files.authority)
    context.verify_mode = ssl.CERT_OPTIONAL
    server = Impostor(context)
    yield server, client_files
    server.close()


@pytest.mark.parametrize("variable", ["PGPASSWORD", "PGPASSFILE"])
def test_a_url_without_a_password_is_lent_none_by_this_machine(
    impostor, monkeypatch, tmp_path, variable
):
    passfile = tmp_path / "pgpass"
    passfile.write_text("*:*:*:*:operator-secret\n")
    passfile.chmod(0o600)
    monkeypatch.setenv(variable, "operator-secret" if variable == "PGPASSWORD" else str(passfile))

    assert attempt(impostor.port) == "unreachable"
    assert impostor.passwords == []


def test_a_password_in_the_url_is_the_one_sent(impostor):
    attempt(impostor.port, credentials="reader:typed-pw")

    assert impostor.passwords == [b"typed-pw\0"]


def test_no_client_certificate_of_this_machine_is_shown_to_the_server(tls_impostor, monkeypatch):
    impostor, mine = tls_impostor
    monkeypatch.setenv("PGSSLCERT", mine.certificate)
    monkeypatch.setenv("PGSSLKEY", mine.key)

    attempt(impostor.port, credentials="reader:pw", query="?sslmode=require")

    assert impostor.client_certificates == [None]
    assert impostor.passwords == [b"pw\0"]


def test_gssapi_is_never_tried_whatever_the_environment_says(impostor, monkeypatch):
    monkeypatch.setenv("PGGSSENCMODE", "require")

    attempt(impostor.port, credentials="reader:pw")

    assert (impostor.gssapi_requests, impostor.passwords) == (0, [b"pw\0"])
