"""NDJSON framing (app/core/rpc/framing.py) over a real asyncio.StreamReader."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.core.rpc.framing import MalformedLine, Message, MessageReader, encode
from tests.helpers import ChunkByChunk

pytestmark = pytest.mark.anyio

READ_TIMEOUT_S = 30.0  # generous for the 50 MB message on a slow machine


def _stream(*chunks: bytes) -> asyncio.StreamReader:
    """A StreamReader that yields ``chunks`` and then end-of-file."""
    stream = asyncio.StreamReader()
    for chunk in chunks:
        stream.feed_data(chunk)
    stream.feed_eof()
    return stream


async def _read_all(reader: MessageReader) -> list[Message | MalformedLine]:
    items: list[Message | MalformedLine] = []
    async with asyncio.timeout(READ_TIMEOUT_S):
        while (item := await reader.read()) is not None:
            items.append(item)
    return items


def _chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


MESSAGES: list[Message] = [
    {"jsonrpc": "2.0", "id": 1, "method": "ping"},
    {"jsonrpc": "2.0", "id": "two", "result": {"text": "héllo ✓ ünïcode"}},
    {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 0.5}},
]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
async def test_messages_split_across_arbitrary_chunk_boundaries_arrive_whole(
    chunk_size: int,
) -> None:
    chunks = _chunked(b"".join(encode(message) for message in MESSAGES), chunk_size)
    source = ChunkByChunk()
    reader = MessageReader(source)

    async with asyncio.timeout(READ_TIMEOUT_S):
        feeder = asyncio.create_task(source.feed(chunks))
        received = await _read_all(reader)
        await feeder

    assert received == MESSAGES
    assert source.reads == [*chunks, b""]  # the boundaries really were where we cut


async def test_a_multibyte_character_split_between_chunks_is_decoded_intact() -> None:
    data = encode({"text": "✓"})
    cut = data.index("✓".encode()) + 1  # inside the three-byte UTF-8 sequence

    assert await _read_all(MessageReader(_stream(data[:cut], data[cut:]))) == [{"text": "✓"}]


async def test_several_messages_in_one_chunk_are_returned_one_at_a_time() -> None:
    reader = MessageReader(_stream(b"".join(encode(message) for message in MESSAGES)))

    assert await reader.read() == MESSAGES[0]
    assert await reader.read() == MESSAGES[1]
    assert await reader.read() == MESSAGES[2]
    assert await reader.read() is None


async def test_blank_lines_are_skipped() -> None:
    data = b'\n\n{"a":1}\n  \n\r\n\t\n{"b":2}\n\n'

    assert await _read_all(MessageReader(_stream(data))) == [{"a": 1}, {"b": 2}]


async def test_a_final_line_without_a_newline_still_counts() -> None:
    assert await _read_all(MessageReader(_stream(b'{"a":1}\n{"b":', b"2}"))) == [
        {"a": 1},
        {"b": 2},
    ]


async def test_a_carriage_return_before_the_newline_is_accepted() -> None:
    assert await _read_all(MessageReader(_stream(b'{"a":1}\r\n'))) == [{"a": 1}]


async def test_end_of_stream_is_reported_again_on_every_later_read() -> None:
    reader = MessageReader(_stream(b'{"a":1}\n'))
    assert await reader.read() == {"a": 1}

    assert await reader.read() is None
    assert await reader.read() is None


async def test_a_line_that_is_not_json_comes_back_as_a_value_and_the_stream_continues() -> None:
    data = b'{"a":1}\nhello from a stray print()\n{"b":2}\n'

    first, bad, last = await _read_all(MessageReader(_stream(data)))

    assert (first, last) == ({"a": 1}, {"b": 2})
    assert isinstance(bad, MalformedLine)
    assert bad.reason.startswith("not JSON")
    assert bad.preview == "hello from a stray print()"
    assert "hello from a stray print()" in str(bad)


async def test_invalid_utf8_comes_back_as_a_malformed_line() -> None:
    bad, good = await _read_all(MessageReader(_stream(b'\x00\xff not json\n{"b":2}\n')))

    assert isinstance(bad, MalformedLine)
    assert bad.reason.startswith("not JSON")
    assert good == {"b": 2}


@pytest.mark.parametrize("line", [b"[1,2,3]", b'"a string"', b"42", b"null", b"true"])
async def test_json_that_is_not_an_object_comes_back_as_a_malformed_line(line: bytes) -> None:
    bad, good = await _read_all(MessageReader(_stream(line + b'\n{"b":2}\n')))

    assert bad == MalformedLine("not a JSON-RPC message object", line.decode(), parsed=True)
    assert good == {"b": 2}


async def test_a_malformed_line_preview_is_cut_to_a_readable_length() -> None:
    (bad,) = await _read_all(MessageReader(_stream(b"x" * 10_000 + b"\n")))

    assert isinstance(bad, MalformedLine)
    assert bad.preview == "x" * 200 + "…"


OVERSIZED = encode({"blob": "y" * 500})


def _oversized_stream() -> tuple[bytes, list[Message]]:
    good = [{"a": 1}, {"b": 2}]
    return encode(good[0]) + OVERSIZED + encode(good[1]), good


def _assert_reported_once_between(
    items: list[Message | MalformedLine], good: list[Message]
) -> None:
    malformed = [item for item in items if isinstance(item, MalformedLine)]
    assert len(malformed) == 1
    assert malformed[0].reason == "message larger than 100 bytes, dropped"
    preview = malformed[0].preview
    assert preview and OVERSIZED.decode().startswith(preview)  # the start of the dropped line
    assert items == [good[0], malformed[0], good[1]]


@pytest.mark.parametrize("chunk_size", [5, 64, 99])
async def test_an_oversized_line_is_reported_once_and_the_next_message_still_arrives(
    chunk_size: int,
) -> None:
    data, good = _oversized_stream()
    source = ChunkByChunk()

    async with asyncio.timeout(READ_TIMEOUT_S):
        feeder = asyncio.create_task(source.feed(_chunked(data, chunk_size)))
        items = await _read_all(MessageReader(source, max_bytes=100))
        await feeder

    _assert_reported_once_between(items, good)


async def test_an_oversized_line_that_arrives_in_a_single_read_is_reported_too() -> None:
    data, good = _oversized_stream()

    items = await _read_all(MessageReader(_stream(data), max_bytes=100))

    _assert_reported_once_between(items, good)


async def test_a_message_of_exactly_max_bytes_is_accepted() -> None:
    message = {"t": "z" * 92}
    line = encode(message)
    assert len(line) - 1 == 100  # the newline does not count

    assert await _read_all(MessageReader(_stream(line), max_bytes=100)) == [message]


async def test_a_50_mb_message_arrives_intact() -> None:
    payload = "0123456789abcdef" * (50 * 1024 * 1024 // 16)
    big = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": payload}]}}
    data = encode(big) + encode({"jsonrpc": "2.0", "id": 8, "result": {}})
    stream = asyncio.StreamReader(limit=2**31)
    stream.feed_data(data)
    stream.feed_eof()
    del data

    items = await _read_all(MessageReader(stream))

    assert len(items) == 2
    first = items[0]
    assert isinstance(first, dict)
    assert first["id"] == 7
    text = first["result"]["content"][0]["text"]
    assert len(text) == len(payload)
    assert text == payload
    assert items[1] == {"jsonrpc": "2.0", "id": 8, "result": {}}


def test_encode_writes_one_compact_line_with_unicode_as_is() -> None:
    line = encode({"a": "✓", "b": [1, 2]})

    assert line == '{"a":"✓","b":[1,2]}\n'.encode()
    assert line.count(b"\n") == 1
    assert json.loads(line) == {"a": "✓", "b": [1, 2]}


async def test_a_newline_inside_a_string_value_is_escaped_so_framing_holds() -> None:
    message = {"text": "line one\nline two"}

    assert await _read_all(MessageReader(_stream(encode(message)))) == [message]
