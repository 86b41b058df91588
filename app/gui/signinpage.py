"""Where to sign in, when the browser does not show it: the sign-in page's address, to copy.

The tray opens the browser on a server's sign-in page once. When the desktop
cannot open a browser at all, or the user presses Sign in… again (the page
is open somewhere, or the browser quietly failed to show it: xdg-open with
no browser behind it still counts as opened), this window gives the address
with a Copy button; a notification could neither hold it whole nor let it be
copied. It is one per server, found among Qt's top-level windows, and the
tray closes it once the sign-in is over, whichever way it ended.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.widgets import button

NOT_OPENED = (
    "MCP Tray could not open your browser. To sign in to {server}, copy this address "
    "into your browser's address bar:"
)
ALREADY_OPEN = (
    "{server}'s sign-in page is already open in your browser; finish signing in there. "
    "If you cannot find it, copy this address into your browser's address bar:"
)
CLOSES = "This window closes by itself once you have signed in."


class SignInPageDialog(QDialog):
    """The address of ``server``'s sign-in page, with Copy, and why it is shown."""

    def __init__(self, server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.server = server
        self.setWindowTitle(f"Sign in to {server}")
        self.setMinimumWidth(560)
        self.intro = QLabel()
        self.intro.setTextFormat(Qt.TextFormat.PlainText)  # a server's name is not HTML
        self.intro.setWordWrap(True)
        self.address = QLineEdit()
        self.address.setReadOnly(True)
        self.copy = button("Copy", lambda: QGuiApplication.clipboard().setText(self.address.text()))
        row = QHBoxLayout()
        row.addWidget(self.address, stretch=1)
        row.addWidget(self.copy)
        closes = QLabel(CLOSES)
        closes.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(row)
        layout.addWidget(closes)
        layout.addWidget(close)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def tell(self, page: str, *, already_open: bool) -> None:
        words = ALREADY_OPEN if already_open else NOT_OPENED
        self.intro.setText(words.format(server=self.server))
        self.address.setText(page)
        self.address.setCursorPosition(0)  # the start of the address shows: where it goes


def show_sign_in_page(
    server: str, page: str, *, already_open: bool, icon: QIcon
) -> SignInPageDialog:
    """The window with ``server``'s sign-in page, in front (the one already open, if any)."""
    dialog = _open_for(server) or SignInPageDialog(server)
    dialog.setWindowIcon(icon)
    dialog.tell(page, already_open=already_open)
    dialog.show()  # not exec(): the loop keeps running
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def close_sign_in_page(server: str) -> None:
    """The sign-in to ``server`` is over: its window, if open, goes."""
    dialog = _open_for(server)
    if dialog is not None:
        dialog.close()


def _open_for(server: str) -> SignInPageDialog | None:
    return next(
        (
            widget
            for widget in QApplication.topLevelWidgets()
            if isinstance(widget, SignInPageDialog)
            and widget.server == server
            and widget.isVisible()
        ),
        None,
    )
