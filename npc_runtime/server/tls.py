"""
TLS for both ports: the certificate and key, read and checked once at start.

With TLS on, the native port takes only TLS (``add_secure_port``) and so does the
gRPC-Web port (aiohttp with an ``ssl.SSLContext``); neither also listens in plaintext.
"""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import grpc

from npc_runtime.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class TlsMaterial:
    """A checked certificate chain and its private key (PEM)."""

    cert_pem: bytes
    key_pem: bytes
    context: ssl.SSLContext  # for the gRPC-Web port

    def __repr__(self) -> str:  # never the key
        return f"TlsMaterial(cert={len(self.cert_pem)} bytes)"

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials for ``grpc.aio.Server.add_secure_port``."""
        return grpc.ssl_server_credentials([(self.key_pem, self.cert_pem)])


def load_tls(cert: Path | None, key: Path | None) -> TlsMaterial | None:
    """
    Read and check ``cert`` and ``key`` (PEM); None when TLS is off (both None).

    Raises:
        ConfigError: Only one of the two, a file that cannot be read, a file that is not
            PEM, or a key that does not belong to the certificate.
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
    pems: list[bytes] = []
    for path, flag in ((cert, "--tls-cert"), (key, "--tls-key")):
        try:
            pems.append(path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read {flag} {path}: {exc.strerror or exc}") from exc
    cert_pem, key_pem = pems
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise ConfigError(f"--tls-cert {cert} is not a PEM certificate "
                          "(expected '-----BEGIN CERTIFICATE-----')")
    if b"PRIVATE KEY-----" not in key_pem:
        raise ConfigError(f"--tls-key {key} is not a PEM private key "
                          "(expected '-----BEGIN ... PRIVATE KEY-----')")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key, password=lambda: b"")  # never prompt
    except ssl.SSLError as exc:
        raise ConfigError(f"--tls-cert {cert} and --tls-key {key} cannot be used together "
                          f"(is the key the certificate's, and unencrypted?): "
                          f"{exc.reason or exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot use --tls-cert {cert} / --tls-key {key}: {exc}") from exc
    return TlsMaterial(cert_pem, key_pem, context)
