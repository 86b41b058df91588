"""What the tray says and offers, decided without Qt: state words, problems, the menu."""

from __future__ import annotations

import re

import pytest

from app.core.overview import (
    Colour,
    Look,
    Overall,
    Shape,
    headline,
    human_duration,
    look,
    needs_you,
    overall,
    summary,
    tooltip,
)
from app.core.problems import config_error_line, plain, problem, secret_progress
from app.core.signin.auth import SIGNED_OUT
from app.core.supervise.failure import Failure
from app.core.supervise.programs import MissingProgram
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus, shown_address
from app.core.traymenu import (
    NEW_KEY,
    OPEN_CONFIG,
    PLACES,
    RESTART,
    SECRET,
    SIGN_IN,
    SIGN_OUT,
    START,
    STOP,
    Entry,
    Settings,
    change_actions,
    labels_by_place,
    new_key_outcome,
    new_key_question,
    server_actions,
    server_buttons,
    tray_menu,
    wrap,
)

JARGON = re.compile(r"crash-loop|needs-secret|backoff|status \d|pid|`|mcp-tray \w|\d+m\d\ds")


def row(state: State, name: str = "files", **fields: object) -> ServerStatus:
    return ServerStatus(name=name, state=state, **fields)  # type: ignore[arg-type]


def every_text(entries: list[Entry] | tuple[Entry, ...]) -> list[str]:
    texts = []
    for entry in entries:
        texts.append(entry.text)
        texts += every_text(entry.children or ())
    return texts


@pytest.mark.parametrize(
    ("state", "words", "shape"),
    [
        (State.RUNNING, "Running", Shape.DOT),
        (State.STARTING, "Starting…", Shape.HALF),
        (State.BACKOFF, "Restarting…", Shape.HALF),
        (State.CRASH_LOOP, "Keeps crashing — paused", Shape.WARNING),
        (State.NEEDS_SECRET, "Needs a secret", Shape.WARNING),
        (State.STOPPED, "Stopped", Shape.RING),
        (State.DISABLED, "Turned off", Shape.RING),
    ],
)
def test_each_state_reads_as_words_with_a_shape_of_its_own(
    state: State, words: str, shape: Shape
) -> None:
    assert look(row(state)).words == words
    assert look(row(state)).shape is shape


def test_a_server_the_user_stopped_says_so() -> None:
    assert look(row(State.STOPPED, stopped_by_user=True)).words == "Stopped by you"


def test_servers_that_need_the_user_are_red_and_lead_the_status_line() -> None:
    rows = [row(State.RUNNING, "a"), row(State.CRASH_LOOP, "b"), row(State.NEEDS_SECRET, "c")]

    assert look(rows[1]).colour is Colour.RED
    assert overall(rows) is Overall.ATTENTION
    assert headline(rows) == "2 need you"
    assert tooltip(rows).splitlines() == [
        "MCP Tray",
        "2 need you",
        "b: Keeps crashing — paused",
        "c: Needs a secret",
    ]


@pytest.mark.parametrize(
    ("states", "line"),
    [
        ([], "No servers yet"),
        ([State.RUNNING], "1 server running"),
        ([State.RUNNING] * 3, "3 servers running"),
        ([State.RUNNING, State.STOPPED], "1 of 2 servers running"),
        ([State.STOPPED], "No server running"),
        ([State.RUNNING, State.STARTING], "1 of 2 servers running, starting the rest…"),
    ],
)
def test_the_status_line_counts_what_runs(states: list[State], line: str) -> None:
    assert headline([row(s, f"s{i}") for i, s in enumerate(states)]) == line


def test_a_config_mistake_counts_as_needing_the_user() -> None:
    assert headline([row(State.RUNNING)], config_problem=True) == "1 needs you"
    assert overall([row(State.RUNNING)], config_problem=True) is Overall.ATTENTION


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(5, "less than a minute"), (16 * 60 + 3, "16 min"), (2 * 3600 + 300, "2 h 5 min"),
     (3600, "1 h"), (26 * 3600, "1 day"), (80 * 3600, "3 days")],
)  # fmt: skip
def test_durations_read_as_people_say_them(seconds: float, words: str) -> None:
    assert human_duration(seconds) == words


def test_a_servers_summary_gives_its_uptime_and_restarts_in_words() -> None:
    running = row(State.RUNNING, uptime_s=330, restarts=2)

    assert summary(running) == "Running for 5 min · restarted twice"


@pytest.mark.parametrize(
    ("error", "what"),
    [
        ("exited with status 1. Last output: fatal: no db", "It stopped with an error."),
        (
            'the command /usr/bin/npx does not exist; fix "command"',
            "The program “npx” is not installed on this computer, or MCP Tray cannot find it.",
        ),
        (
            "did not answer the MCP initialize request within 30s",
            "It started but did not answer MCP Tray within 30 seconds.",
        ),
        ("was killed by SIGKILL.", "It was ended by the system."),
        ("something odd; see `mcp-tray logs files`", "Something odd."),
    ],
)
def test_an_error_becomes_a_sentence_without_statuses_or_command_lines(
    error: str, what: str
) -> None:
    found = problem(row(State.CRASH_LOOP, failure=Failure.from_text(error)))

    assert found is not None
    assert found.what == what
    assert "Try again" in found.todo
    assert not JARGON.search(found.sentences())


@pytest.mark.parametrize(
    ("error", "what"),
    [
        (
            "could not be reached (cannot connect: All connection attempts failed)",
            "Nothing answers at its address: the server may be down, the address wrong, or "
            "this computer offline.",
        ),
        ("lost its connection (the server ended its session)", "Its connection was lost."),
        (
            "could not be reached (no secure connection could be made (WRONG_VERSION_NUMBER): "
            "is it https?)",
            "A secure connection to it failed; check whether its address starts with https "
            "or http.",
        ),
        (
            "could not be reached (its certificate is not trusted (self-signed certificate))",
            "Its certificate is not trusted, so MCP Tray did not connect to it.",
        ),
        (
            "refused the key in its headers (HTTP 401): check it",
            "It refused the key MCP Tray sent it; check the key in its headers.",
        ),
        (
            "has no MCP server at that address (HTTP 404): check the url",
            "There is no MCP server at its address; check the address.",
        ),
    ],
)
def test_a_remote_server_that_cannot_be_used_says_why_without_http_words(
    error: str, what: str
) -> None:
    url = "https://mcp.example.com/mcp"
    paused = row(State.CRASH_LOOP, failure=Failure.from_text(error), url=url)
    found = problem(paused)

    assert found is not None and found.what == what
    assert not JARGON.search(found.sentences()) and "HTTP" not in found.sentences()
    assert look(paused).words == "Can't connect — paused"
    assert look(row(State.STARTING, url=url)).words == "Connecting…"
    assert look(row(State.BACKOFF, url=url)).words == "Offline — trying again…"
    assert summary(row(State.BACKOFF, url=url, restarts=2)) == (
        "Offline — trying again… · reconnected twice"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        (
            "https://ada:pw@mcp.example.com:8443/mcp?key=abc#top",
            "https://mcp.example.com:8443/mcp?…",
        ),
    ],
)
def test_a_remote_servers_address_is_shown_without_what_may_be_a_key(url: str, shown: str) -> None:
    assert shown_address(url) == shown


def test_the_last_thing_a_server_said_is_kept_apart_from_the_sentence() -> None:
    found = problem(
        row(State.BACKOFF, failure=Failure.from_text("exited with status 3. Last output: boom"))
    )

    assert found is not None
    assert found.said == "boom"
    assert found.sentences().endswith("It last said: boom")


def test_a_server_that_needs_a_secret_is_told_which_and_how() -> None:
    found = problem(row(State.NEEDS_SECRET), secrets=["API_TOKEN"])

    assert found is not None
    assert found.what == "It needs API_TOKEN before it can start."
    assert "Set secret…" in found.todo


def test_a_running_server_has_no_problem_even_with_an_old_error() -> None:
    assert problem(row(State.RUNNING, failure=Failure.from_text("exited with status 1"))) is None


def test_plain_drops_command_lines_from_any_message() -> None:
    message = "files did not finish starting within 40s; see `mcp-tray logs files`"

    assert plain(message) == "Files did not finish starting within 40s."


@pytest.mark.parametrize(
    ("state", "first", "absent"),
    [
        (State.NEEDS_SECRET, SECRET, START),
        (State.NEEDS_PROGRAM, RESTART, START),  # Retry: the program may be installed now
        (State.CRASH_LOOP, RESTART, START),
        (State.STOPPED, START, STOP),
        (State.RUNNING, RESTART, START),
    ],
)
def test_a_server_offers_what_its_state_allows_with_the_fix_first(
    state: State, first: str, absent: str
) -> None:
    verbs = [verb for verb, _ in server_actions(row(state), uses_secrets=True)]

    assert verbs[0] == first
    assert absent not in verbs
    assert len(verbs) == len(set(verbs))


def test_a_turned_off_server_offers_only_its_logs() -> None:
    assert [v for v, _ in server_actions(row(State.DISABLED), uses_secrets=False)] == ["logs"]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("uses_secrets", [False, True])
def test_the_window_has_a_button_in_the_same_place_for_each_action_whatever_the_state(
    state: State, uses_secrets: bool
) -> None:
    buttons = server_buttons(row(state), uses_secrets=uses_secrets)
    allowed = server_actions(row(state), uses_secrets=uses_secrets) + change_actions()

    assert [b.place for b in buttons] == list(PLACES)
    assert sorted((b.verb, b.text) for b in buttons if b.verb) == sorted(allowed)
    for greyed in [b for b in buttons if not b.verb]:
        assert greyed.text == PLACES[greyed.place]
        assert greyed.why.startswith("files ") and greyed.why.endswith(".")
        assert not JARGON.search(greyed.why)


def test_try_again_and_retry_sit_where_start_does_and_restart_now_where_restart_does() -> None:
    assert labels_by_place()[START] == {"Start", "Try again", "Retry", "Sign in…"}
    assert labels_by_place()[RESTART] == {"Restart", "Restart now"}
    crashing = server_buttons(row(State.CRASH_LOOP), uses_secrets=False)
    assert [(b.text, b.verb) for b in crashing[1:3]] == [("Try again", RESTART), ("Restart", "")]


def test_with_nothing_selected_every_button_is_greyed_out_and_says_so() -> None:
    buttons = server_buttons(None, uses_secrets=False)
    assert {(b.verb, b.why) for b in buttons} == {("", "Select a server in the list first.")}


def test_the_menu_opens_with_the_name_the_status_and_what_needs_the_user() -> None:
    rows = [row(State.RUNNING, "notes"), row(State.NEEDS_SECRET, "weather")]
    menu = tray_menu(
        rows,
        secrets={"weather": ["API_KEY"]},
        settings=Settings(),
        config_error="/home/me/.config/mcp-tray/config.json:3:5: mcpServers.x: bad value",
    )

    assert [e.text for e in menu[:7]] == [
        "MCP Tray",
        "2 need you",
        "The config file has a mistake in config.json, line 3, column 5:",
        "mcpServers.x: bad value",
        "Open config to fix it",
        "weather needs a secret — Set secret…",
        "",  # the separator before the servers
    ]
    assert menu[4].verb == OPEN_CONFIG and menu[5].verb == SECRET and menu[5].server == "weather"
    assert menu[-1].text == "Quit"
    assert not JARGON.search("\n".join(every_text(menu)))


def test_a_server_that_needs_a_program_is_among_those_that_need_the_user() -> None:
    rows = [row(State.NEEDS_PROGRAM, "github")]
    menu = tray_menu(rows, secrets={}, settings=Settings())

    assert [e.text for e in menu[:3]] == [
        "MCP Tray",
        "1 needs you",
        "github needs a program — Retry",
    ]
    assert menu[2].verb == RESTART and menu[2].server == "github"


def test_menu_keys_stay_the_same_when_a_state_changes() -> None:
    def keys(state: State) -> list[str]:
        menu = tray_menu([row(state, "notes")], secrets={}, settings=Settings())
        return [e.key for e in menu if not e.key.startswith("fix:")]

    assert keys(State.RUNNING) == keys(State.BACKOFF) == keys(State.STOPPED)


def test_a_long_problem_takes_several_menu_lines_none_cut_mid_word() -> None:
    error = "exited with status 1. Last output: " + "word " * 30
    menu = tray_menu(
        [row(State.CRASH_LOOP, failure=Failure.from_text(error))], secrets={}, settings=Settings()
    )
    server = next(e for e in menu if e.key == "server:files")
    lines = [e.text for e in server.children or () if e.key.startswith("problem")]

    assert " ".join(lines).startswith(
        "It stopped with an error. MCP Tray paused it and tries again every few minutes."
    )
    assert 2 <= len(lines) <= 4
    assert all(len(line) <= 60 for line in lines)


def test_wrap_ends_a_cut_text_with_an_ellipsis() -> None:
    assert wrap("a b c d e f", 3, most=2) == ["a b", "c …"]


def test_http_addresses_and_a_new_key_are_offered_only_while_serving() -> None:
    off = tray_menu([], secrets={}, settings=Settings(http_enabled=False, http_port=47821))
    on = tray_menu([], secrets={}, settings=Settings(http_enabled=True, http_port=47821))
    texts = [e.text for e in on]

    assert not {"http-addresses", "new-key"} & {e.key for e in off}
    assert texts.index("HTTP addresses (port 47821)…") + 1 == texts.index("Make a new access key…")
    assert next(e.verb for e in on if e.key == "new-key") == NEW_KEY


@pytest.mark.parametrize(
    ("apps", "given"),
    [
        (["Cursor"], "MCP Tray gives the new key to Cursor for you. Any other app"),
        (["Cursor", "VS Code", "Cursor"], "to Cursor and VS Code for you. Any other app"),
        ([], "MCP Tray has not given the key to any app itself, so any app"),
    ],
)
def test_a_new_key_is_asked_for_saying_who_gets_it_and_who_must_be_given_it(
    apps: list[str], given: str
) -> None:
    question = new_key_question(apps)

    assert given in question
    assert "stops the old one from working at once" in question
    assert question.endswith("must be given the new one.")
    assert not JARGON.search(question) and "token" not in question


def test_a_new_key_s_notice_says_what_changed_and_what_is_left_to_do() -> None:
    title, body = new_key_outcome(["Cursor"], ["Zed: cannot change /x/settings.json"])

    assert title == "Made a new access key"
    assert body == (
        "The old key no longer works. Quit and reopen Cursor so that it uses the new one. "
        "Not updated: Zed: cannot change /x/settings.json. Any other app you gave the key "
        "to needs the new one."
    )
    assert "Cursor and VS Code so that they use" in new_key_outcome(["Cursor", "VS Code"], [])[1]
    assert new_key_outcome([], [])[1] == (
        "The old key no longer works. Any other app you gave the key to needs the new one."
    )


def test_a_config_error_without_a_position_still_reads_as_a_sentence() -> None:
    assert config_error_line("cannot read it") == "The config file has a mistake: cannot read it"


@pytest.mark.parametrize(
    ("state", "text", "over"),
    [
        (State.STARTING, "Saved. weather is starting…", False),
        (State.RUNNING, "Saved. weather is running.", True),
        (State.NEEDS_SECRET, "Saved. weather still needs B.", True),
    ],
)
def test_the_secret_dialog_follows_the_server_it_unblocked(
    state: State, text: str, over: bool
) -> None:
    assert secret_progress(row(state, "weather"), "weather", still_needed=["B"]) == (text, over)


def test_the_secret_dialog_says_why_a_server_did_not_start() -> None:
    failed = row(State.CRASH_LOOP, "weather", failure=Failure.from_text("exited with status 2"))

    text, over = secret_progress(failed, "weather")

    assert text == "Saved, but weather did not start: it stopped with an error."
    assert over


# ----- a server that needs a program


def needs(command: str) -> ServerStatus:
    phrase = MissingProgram(command).phrase()
    return row(State.NEEDS_PROGRAM, failure=Failure(phrase=phrase, missing_program=command))


def test_a_server_that_needs_a_program_people_know_says_which_and_where_to_get_it() -> None:
    found = problem(needs("npx"))

    assert look(needs("npx")) == Look("Needs Node.js", Colour.RED, Shape.WARNING)
    assert found is not None
    assert found.sentences() == (
        "It needs Node.js (npx), which is not installed. Get it from nodejs.org, then choose Retry."
    )
    assert needs_you(needs("npx"))
    assert headline([needs("npx")]) == "1 needs you"
    menu = tray_menu([needs("npx")], secrets={}, settings=Settings())
    assert menu[2].text == "files needs Node.js — Retry"  # the window's words, not vaguer ones


def test_a_server_that_needs_an_unknown_program_names_the_program() -> None:
    found = problem(needs("/opt/acme/acme-mcp"))

    assert look(needs("acme-mcp")).words == "Needs a program"
    assert found is not None
    assert found.sentences() == (
        "It needs the program acme-mcp, which is not installed. Install it, then choose Retry."
    )
    assert not JARGON.search(found.sentences())


def test_the_missing_program_travels_in_the_status_row() -> None:
    sent = needs("uvx")

    received = ServerStatus.from_wire(sent.to_wire())

    assert sent.to_wire()["missing_program"] == "uvx"
    assert received.failure == sent.failure
    assert look(received).words == "Needs uv"


def test_a_server_waiting_for_a_sign_in_offers_it_first_and_a_signed_in_one_signing_out() -> None:
    waiting = row(State.NEEDS_SIGN_IN, "linear", url="https://mcp.linear.app/mcp")
    signed_in = row(State.RUNNING, "linear", url="https://mcp.linear.app/mcp", signed_in=True)
    menu = tray_menu([waiting], secrets={}, settings=Settings())

    assert server_actions(waiting, uses_secrets=False)[0] == (SIGN_IN, "Sign in…")
    assert "linear needs you to sign in — Sign in…" in every_text(menu)
    assert "It needs you to sign in to use its tools." in " ".join(every_text(menu))
    assert (SIGN_OUT, "Sign out") in server_actions(signed_in, uses_secrets=False)
    assert (SIGN_OUT, "Sign out") not in server_actions(waiting, uses_secrets=False)
    buttons = {b.place: b for b in server_buttons(waiting, uses_secrets=False)}
    assert (buttons[START].text, buttons[START].verb) == ("Sign in…", SIGN_IN)
    assert {b.place: b.text for b in server_buttons(signed_in, uses_secrets=False)}[SECRET] == (
        "Sign out"
    )


def test_a_server_the_user_signed_out_of_rests_grey_and_needs_no_one() -> None:
    out = row(
        State.NEEDS_SIGN_IN,
        "linear",
        url="https://mcp.linear.app/mcp",
        failure=Failure(phrase=SIGNED_OUT),
    )
    menu = tray_menu([out], secrets={}, settings=Settings())

    assert look(out) == Look("Signed out", Colour.GREY, Shape.RING)
    assert headline([out]) != "1 needs you"
    assert not any(text.startswith("linear signed out") for text in every_text(menu))
    assert "You signed out of it. Choose Sign in… to use its tools" in every_text(menu)
    assert server_actions(out, uses_secrets=False)[0] == (SIGN_IN, "Sign in…")


def test_tools_held_for_review_are_counted_as_such_and_lead_to_the_review() -> None:
    held = row(State.RUNNING, "dictionary", held_tools=("lookup",))
    menu = tray_menu(
        [held],
        secrets={},
        settings=Settings(),
        tools={"dictionary": [("lookup", False), ("define", True)]},
    )
    texts = every_text(menu)

    assert "dictionary has a new or changed tool — Review…" in texts
    assert "Tools (1 of 2 on, 1 to review)" in texts
    assert "lookup — waiting for your review" in texts
