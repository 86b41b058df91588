"""A failure words its own sentences: for a server's name, for the status table, for the wire."""

from __future__ import annotations

from app.core.events import ServerExited
from app.core.supervise.failure import Failure
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus


def test_a_failure_names_its_server_and_ends_with_what_the_server_last_said() -> None:
    failure = Failure(phrase="exited with status 1", exit_status=1, last_output=("a", "boom "))

    assert failure.sentence("files") == "files exited with status 1. Last output: boom"
    assert failure.text() == "exited with status 1. Last output: boom"
    assert Failure(phrase="stopped answering").sentence("files") == "files stopped answering."


def test_an_exit_is_a_failure_with_its_status_and_last_lines() -> None:
    killed = ServerExited(server="db", exit_code=None, signal=9, planned=False, last_stderr=("x",))

    assert killed.failure() == Failure(
        phrase="was killed by SIGKILL", exit_status=-9, last_output=("x",)
    )
    assert killed.describe() == "db was killed by SIGKILL. Last output: x"


def test_secret_values_are_masked_in_the_phrase_and_the_output() -> None:
    failure = Failure(phrase="said s3cret", last_output=("s3cret here",))

    masked = failure.redacted(lambda text: text.replace("s3cret", "****"))

    assert masked.text() == "said ****. Last output: **** here"


def test_a_status_row_carries_its_failure_as_the_text_status_always_showed() -> None:
    failure = Failure(phrase="exited with status 3", exit_status=3, last_output=("x", "boom"))
    row = ServerStatus(name="db", state=State.BACKOFF, last_exit=3, failure=failure)

    wire = row.to_wire()
    back = ServerStatus.from_wire(wire)

    assert wire["last_error"] == "exited with status 3. Last output: boom"
    assert back.failure == Failure(
        phrase="exited with status 3", exit_status=3, last_output=("boom",)
    )
    assert ServerStatus.from_wire({**wire, "last_error": None}).failure is None


def test_only_a_failure_that_tells_of_an_exit_takes_the_rows_exit_status() -> None:
    hung = ServerStatus.from_wire(
        {"name": "db", "state": "backoff", "last_exit": -9, "last_error": "stopped answering"}
    )

    assert hung.failure == Failure(phrase="stopped answering")
