"""Reads an uploaded image, multipart or raw, without ever holding more than the limit.

The body is counted while it streams in, so a client that lies about (or omits)
Content-Length still cannot make the server buffer more than the limit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from search_service.errors import InvalidRequestError

# Room for the multipart boundaries and part headers around the image itself.
_MULTIPART_OVERHEAD = 64 * 1024
IMAGE_FIELD = "image"


class PayloadTooLargeError(Exception):
    """The upload is larger than the configured limit (HTTP 413)."""


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the upload is {declared} bytes; at most {limit} are accepted")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"the upload is over the limit of {limit} bytes")
    return bytes(body)


async def _once(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _image_from_multipart(headers: Headers, body: bytes) -> bytes:
    parser = MultiPartParser(headers, _once(body), max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequestError(f"the multipart body cannot be read: {exc.message}") from None
    try:
        part = form.get(IMAGE_FIELD)
        if not isinstance(part, UploadFile):
            raise InvalidRequestError(f"the multipart body has no file field named {IMAGE_FIELD!r}")
        return await part.read()
    finally:
        await form.close()


async def read_image(request: Request, max_bytes: int) -> bytes:
    """The image bytes of an upload.

    Accepts ``multipart/form-data`` with the file in the ``image`` field (an HTML form or
    ``curl -F image=@poster.jpg``), or the raw file as the body (``curl --data-binary``).

    Raises:
        PayloadTooLargeError: The image, or the whole body, is over max_bytes.
        InvalidRequestError: No image was sent, or the multipart body is malformed.
    """
    content_type = request.headers.get("content-type", "")
    is_multipart = content_type.startswith("multipart/form-data")
    body = await _read_body(request, max_bytes + (_MULTIPART_OVERHEAD if is_multipart else 0))
    image = await _image_from_multipart(request.headers, body) if is_multipart else body
    if len(image) > max_bytes:
        raise PayloadTooLargeError(
            f"the image is {len(image)} bytes; at most {max_bytes} are accepted"
        )
    if not image:
        raise InvalidRequestError("no image was sent; upload a JPEG, PNG or WebP file")
    return image
