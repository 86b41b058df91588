"""Review…: the tools a server changed since you accepted them, or added, side by side.

A server that rewrites what a tool says after you trusted it could be
steering the model; MCP Tray holds such tools back from the apps
(app.core.accepted) and this window shows what changed, in the tool's own
words: what it said, what it says now, and whether what it takes changed.
"Let them through" accepts them as they are now; "Keep them off" leaves them
held (the window can be opened again from the menu).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

NO_DESCRIPTION = "(it says nothing about itself)"


class ReviewToolsDialog(QDialog):
    """``accept_them()`` is called when the user lets the tools through."""

    def __init__(
        self,
        server: str,
        held: list[dict[str, Any]],
        *,
        accept_them: Callable[[], None],
        logo: QIcon,
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"Review {server}'s tools")
        self.setWindowIcon(logo)
        self.setMinimumWidth(520)
        count = len(held)
        intro = QLabel(
            f"{server} changed {'a tool' if count == 1 else f'{count} tools'} since you "
            "last accepted its tools. MCP Tray keeps "
            f"{'it' if count == 1 else 'them'} from your apps until you decide. Let "
            f"{'it' if count == 1 else 'them'} through only if this is what you expect "
            f"of {server}."
        )
        intro.setWordWrap(True)
        self.details = QLabel("".join(_section(tool) for tool in held))
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        holder = QWidget()
        inner = QVBoxLayout(holder)
        inner.addWidget(self.details)
        inner.addStretch()
        scroll.setWidget(holder)
        self.buttons = QDialogButtonBox()
        self.let_through = self.buttons.addButton(
            "Let them through" if count > 1 else "Let it through",
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.keep_off = self.buttons.addButton(
            "Keep them off" if count > 1 else "Keep it off",
            QDialogButtonBox.ButtonRole.RejectRole,
        )
        self.keep_off.setDefault(True)  # Enter keeps things as they are
        self.let_through.setAutoDefault(False)
        self.buttons.accepted.connect(accept_them)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)
        self.resize(560, 420)


def _section(tool: dict[str, Any]) -> str:
    name = html.escape(str(tool["name"]))
    before, now = tool.get("accepted"), tool.get("offered") or {}
    said_now = html.escape(str(now.get("description") or NO_DESCRIPTION))
    if before is None:
        return f"<p><b>{name}</b>: a new tool.<br>It says: <i>{said_now}</i></p>"
    lines = [f"<p><b>{name}</b>: changed."]
    if before.get("description") != now.get("description"):
        said = html.escape(str(before.get("description") or NO_DESCRIPTION))
        lines.append(f"<br>It said: <i>{said}</i><br>It now says: <i>{said_now}</i>")
    if before.get("inputSchema") != now.get("inputSchema"):
        lines.append("<br>What it asks the model for changed too.")
    if before.get("outputSchema") != now.get("outputSchema"):
        lines.append("<br>What it answers with changed too.")
    return "".join(lines) + "</p>"
