"""A webhook over HTTPS: the connection goes to the checked address, while TLS names the
URL's host (SNI) and the certificate is verified against it, with a real local TLS server
and a certificate authority made for the test."""

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from journeys import webhooks


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: str, key, signing_key, *, ca: bool, dns: str = "") -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def authority(tmp_path: Path, monkeypatch) -> Path:
    """A CA that OpenSSL trusts for this test only (SSL_CERT_FILE is read when a context is made)."""
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ca.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "ca.pem").write_bytes(_pem(_certificate("Test CA", "Test CA", key, key, ca=True)))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return tmp_path


def _server_for(authority: Path, host: str) -> tuple[ThreadingHTTPServer, list[dict]]:
    ca_key = serialization.load_pem_private_key((authority / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate(host, "Test CA", key, ca_key, ca=False, dns=host)
    (authority / f"{host}.pem").write_bytes(_pem(certificate))
    (authority / f"{host}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            requests.append({"host": self.headers.get("Host"), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(authority / f"{host}.pem", authority / f"{host}.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, requests


@pytest.fixture
def tls_server(authority: Path) -> Iterator[tuple[int, list[dict]]]:
    server, requests = _server_for(authority, "crm.example.com")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], requests
    server.shutdown()
    server.server_close()


def test_an_https_call_reaches_the_checked_address_with_the_urls_host_in_sni_and_the_certificate(tls_server):
    port, requests = tls_server
    target = webhooks.Target("https", "crm.example.com", port, "/hook", "127.0.0.1")

    code = webhooks.send(target, "POST", b'{"a":1}', {"Content-Type": "application/json"}, 5)

    assert code == 200
    assert requests == [{"host": f"crm.example.com:{port}", "body": b'{"a":1}'}]


def test_a_certificate_for_another_host_is_refused(tls_server):
    port, requests = tls_server
    target = webhooks.Target("https", "other.example.com", port, "/hook", "127.0.0.1")

    with pytest.raises(webhooks.Unreachable, match=r"CERTIFICATE_VERIFY_FAILED|Hostname mismatch"):
        webhooks.send(target, "POST", b"{}", {}, 5)

    assert requests == []
