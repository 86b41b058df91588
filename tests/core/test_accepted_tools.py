"""The record of tools as the user accepted them (app.core.accepted): what is held, page
by page, and that a tool is accepted only as the user saw it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.accepted import AcceptedTools, fingerprint

pytestmark = pytest.mark.anyio


def tool(name: str, says: str) -> dict[str, Any]:
    return {"name": name, "description": says, "inputSchema": {"type": "object"}}


async def test_a_first_list_on_two_pages_is_accepted_whole(tmp_path: Path) -> None:
    record = AcceptedTools(tmp_path / "accepted.json")
    record.saw("s", [tool("a", "A.")], trusting=False, last_page=False)
    record.saw("s", [tool("b", "B.")], trusting=False, last_page=True)
    await record.flush()

    assert record.held_names("s") == frozenset()
    assert set(json.loads((tmp_path / "accepted.json").read_text())["s"]) == {"a", "b"}


async def test_a_tool_held_on_one_page_stays_held_when_another_page_is_listed(
    tmp_path: Path,
) -> None:
    record = AcceptedTools(tmp_path / "accepted.json")
    record.saw("s", [tool("a", "A.")], trusting=False, last_page=False)
    record.saw("s", [tool("b", "B.")], trusting=False, last_page=True)

    assert record.saw("s", [tool("a", "A. And more.")], trusting=False, last_page=False)
    record.saw("s", [tool("b", "B.")], trusting=False, last_page=True)  # page 2, unchanged
    assert record.held_names("s") == {"a"}
    record.saw("s", [tool("a", "A.")], trusting=False, last_page=False)  # changed back
    assert record.held_names("s") == frozenset()


async def test_a_tool_is_accepted_only_as_the_user_saw_it(tmp_path: Path) -> None:
    record = AcceptedTools(tmp_path / "accepted.json")
    record.saw("s", [tool("a", "A.")], trusting=False, last_page=True)
    record.saw("s", [tool("a", "Reviewed.")], trusting=False, last_page=True)
    (shown,) = [held.to_wire() for held in record.held("s")]
    record.saw(
        "s", [tool("a", "Changed again while the user looked.")], trusting=False, last_page=True
    )

    assert record.accept("s", {"a": shown["fingerprint"]}) == []
    assert record.held_names("s") == {"a"}
    now = fingerprint(tool("a", "Changed again while the user looked."))
    assert record.accept("s", {"a": now}) == ["a"]
    assert record.held_names("s") == frozenset()


async def test_a_record_with_a_hand_edited_mistake_is_read_as_far_as_it_makes_sense(
    tmp_path: Path,
) -> None:
    path = tmp_path / "accepted.json"
    path.write_text(json.dumps({"s": {"a": "not a tool", "b": tool("b", "B.")}, "t": 3}))
    record = AcceptedTools(path)

    assert not record.saw("s", [tool("b", "B.")], trusting=False, last_page=True)
    assert record.held_names("s") == frozenset()
