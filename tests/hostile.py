"""Requests as a hostile or broken client sends them: any text, encoded as UTF-8 even when it
is not valid Unicode (lone surrogates), which Django's test client refuses to encode."""

from urllib.parse import quote

BOUNDARY = "hostile-boundary-7f3a"


def raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def query_string(params: dict[str, str]) -> str:
    return "&".join(f"{quote(raw(key))}={quote(raw(value))}" for key, value in params.items())


def urlencoded(fields: dict[str, str]) -> bytes:
    return query_string(fields).encode("ascii")


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    """(body, content type) of a multipart form; ``files`` maps a field to (name, bytes, type)."""
    parts = []
    for name, value in fields.items():
        parts.append(
            b"--"
            + BOUNDARY.encode()
            + b'\r\nContent-Disposition: form-data; name="'
            + raw(name)
            + b'"\r\n\r\n'
            + raw(value)
            + b"\r\n"
        )
    for name, (filename, content, content_type) in files.items():
        parts.append(
            b"--"
            + BOUNDARY.encode()
            + b'\r\nContent-Disposition: form-data; name="'
            + raw(name)
            + b'"; filename="'
            + raw(filename)
            + b'"\r\nContent-Type: '
            + content_type.encode()
            + b"\r\n\r\n"
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={BOUNDARY}"
