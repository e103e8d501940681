"""Scanning uploads with clamd before they are stored.

A small client for clamd's documented protocol (clamd(8), command INSTREAM) rather than a
third-party package: the `clamd` one is unmaintained and the protocol is a few lines. The file
is streamed in chunks, so clamd needs no read access to our temporary files and no chunk comes
near its StreamMaxLength (which still bounds the whole file: see docs/deployment.md §2.8).

Settings: ``CLAMD_SOCKET`` (a Unix socket) or ``CLAMD_HOST`` and ``CLAMD_PORT`` (TCP), and
``CLAMD_TIMEOUT`` in seconds. Neither socket nor host set means no scanning.
"""

import socket
import struct
from dataclasses import dataclass

from django.conf import settings

# 64 KiB, Django's own chunk size: the size clamd reads per chunk is its business, but a
# chunk above its StreamMaxLength would be refused as a whole.
CHUNK_BYTES = 64 * 1024
# Generous: a real answer is "stream: <signature name> FOUND", well under a kilobyte.
MAX_REPLY_BYTES = 4096


class ScanUnavailable(Exception):
    """clamd gave no verdict (unreachable, timed out, or answered an error): the reason says why.

    An exception rather than a result, so that a caller who forgets this case refuses the
    upload instead of storing an unscanned file.
    """


@dataclass(frozen=True)
class ScanResult:
    """clamd's verdict: ``signature`` names what it found, None when the file is clean."""

    signature: str | None = None

    @property
    def clean(self) -> bool:
        return self.signature is None


def is_enabled() -> bool:
    return bool(settings.CLAMD_SOCKET or settings.CLAMD_HOST)


def scan(uploaded_file) -> ScanResult:
    """Stream ``uploaded_file`` (a Django File) to clamd; raises ScanUnavailable without verdict.

    The file is read with ``.chunks()`` and left at position 0.
    """
    try:
        with _connect() as connection:
            reply = _instream(connection, uploaded_file)
    except TimeoutError:
        raise ScanUnavailable(
            f"clamd did not answer within {settings.CLAMD_TIMEOUT} s ({_address()})"
        ) from None
    except OSError as error:
        raise ScanUnavailable(f"cannot talk to clamd at {_address()}: {error}") from None
    finally:
        uploaded_file.seek(0)
    return _verdict(reply)


def _address() -> str:
    if settings.CLAMD_SOCKET:
        return settings.CLAMD_SOCKET
    return f"{settings.CLAMD_HOST}:{settings.CLAMD_PORT}"


def _connect() -> socket.socket:
    timeout = settings.CLAMD_TIMEOUT
    if settings.CLAMD_SOCKET:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(timeout)
        try:
            connection.connect(settings.CLAMD_SOCKET)
        except BaseException:
            connection.close()
            raise
        return connection
    return socket.create_connection((settings.CLAMD_HOST, settings.CLAMD_PORT), timeout=timeout)


def _instream(connection: socket.socket, uploaded_file) -> bytes:
    # The "z" prefix asks for NUL-terminated commands and replies, so a signature name
    # containing a newline cannot be mistaken for the end of the reply.
    try:
        connection.sendall(b"zINSTREAM\0")
        for chunk in _chunks(uploaded_file):
            connection.sendall(struct.pack("!L", len(chunk)) + chunk)
        connection.sendall(struct.pack("!L", 0))
    except (BrokenPipeError, ConnectionResetError):
        # clamd stops reading and hangs up when the stream exceeds its StreamMaxLength; it
        # usually said why before closing ("INSTREAM size limit exceeded. ERROR").
        pass
    return _read_reply(connection)


def _chunks(uploaded_file):
    # An in-memory upload yields itself whole from .chunks(), whatever size is asked for.
    for block in uploaded_file.chunks(CHUNK_BYTES):
        for start in range(0, len(block), CHUNK_BYTES):
            # Never empty: a zero-length chunk would end the stream mid-file.
            yield block[start : start + CHUNK_BYTES]


def _read_reply(connection: socket.socket) -> bytes:
    reply = b""
    while b"\0" not in reply and len(reply) < MAX_REPLY_BYTES:
        try:
            data = connection.recv(1024)
        except ConnectionResetError:
            break
        if not data:
            break
        reply += data
    return reply.partition(b"\0")[0]


def _verdict(raw_reply: bytes) -> ScanResult:
    reply = raw_reply.decode("utf-8", "replace").strip()
    if not reply:
        raise ScanUnavailable(f"clamd at {_address()} closed the connection without a verdict")
    if reply.endswith("ERROR"):
        raise ScanUnavailable(f"clamd at {_address()} answered: {reply}")
    # "stream: OK" or "stream: <signature name> FOUND"
    prefix, _, verdict = reply.partition(": ")
    if prefix == "stream" and verdict == "OK":
        return ScanResult()
    if prefix == "stream" and verdict.endswith(" FOUND"):
        signature = verdict.removesuffix(" FOUND").strip()
        if signature:
            return ScanResult(signature=signature)
    raise ScanUnavailable(f"clamd at {_address()} answered something unexpected: {reply!r}")
