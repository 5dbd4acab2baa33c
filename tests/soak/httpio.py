"""Reading and writing HTTP/1.1 on asyncio streams, strictly enough to verify every byte.

The soak's well-behaved clients use these to check what the server sends: a response that
cannot be parsed, or whose framing is off, is an error of the server, not of the client.
"""
import asyncio
from dataclasses import dataclass, field


class ProtocolError(Exception):
    """The server sent something that is not a well-formed HTTP/1.1 response."""


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    chunked: bool = False

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


async def read_response(reader: asyncio.StreamReader, head_only: bool = False) -> Response:
    """Reads one response: its head, then its body by Content-Length, chunked or close."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        raise ProtocolError(f"connection closed in a response head after {len(e.partial)} bytes") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {lines[0]!r}")
    response = Response(int(parts[1]))
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        response.headers[name.strip().lower()] = value.strip()
    if head_only or response.status in (204, 304) or 100 <= response.status < 200:
        return response
    if response.header("transfer-encoding").lower() == "chunked":
        response.chunked = True
        response.body = await read_chunked(reader)
    elif response.header("content-length"):
        length = int(response.header("content-length"))
        try:
            response.body = await reader.readexactly(length)
        except asyncio.IncompleteReadError as e:
            raise ProtocolError(f"body cut off at {len(e.partial)} of {length} bytes") from None
    else:
        response.body = await reader.read()  # delimited by the close
    return response


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line[:-2].split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
                    pass
                return bytes(body)
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise ProtocolError("chunk data not followed by CRLF")
    except asyncio.IncompleteReadError as e:
        raise ProtocolError(f"chunked body cut off ({len(body)} bytes decoded)") from None
    except ValueError:
        raise ProtocolError("bad chunk size line") from None


def request(method: str, path: str, body: bytes = None, chunks=None, extra: str = "") -> bytes:
    """One request. `chunks` (a list of bytes) sends the body chunked; `body` with a length."""
    head = f"{method} {path} HTTP/1.1\r\nHost: soak\r\n{extra}"
    if chunks is not None:
        out = bytearray((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        for c in chunks:
            out += f"{len(c):x}\r\n".encode() + c + b"\r\n"
        return bytes(out + b"0\r\n\r\n")
    if body is not None:
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return (head + "\r\n").encode()
