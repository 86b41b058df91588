"""Opening a file with the desktop's program for it, and hearing when none took it.

Qt's ``QDesktopServices.openUrl`` only says whether it could start the
desktop's opener. On Linux that is xdg-open, which on many fresh desktops
finds no program for ``.json``, prints why on a terminal nobody sees, and
exits with an error: "Open config" then did nothing at all. So on Linux the
tray runs xdg-open itself and watches how it ends; ``failed`` lets the tray
fall back to a text editor, then to showing where the file is.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

logger = logging.getLogger(__name__)

# xdg-open that finds no program fails at once; one still running after this has handed
# the file over (some desktops keep it running until that program closes).
VERDICT_S = 10.0


class DesktopOpener(QObject):
    """``open(url)`` as ``QDesktopServices.openUrl``; ``failed(path)`` when, after all,
    no program opened it. Emitted from a watching thread; Qt queues it to the tray's."""

    failed = Signal(str)

    def open(self, url: QUrl) -> bool:
        xdg_open = shutil.which("xdg-open") if sys.platform.startswith("linux") else None
        if xdg_open is None:
            return QDesktopServices.openUrl(url)
        path = url.toLocalFile()
        try:
            opener = subprocess.Popen(
                [xdg_open, path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # the program it starts outlives the tray
            )
        except OSError as error:
            logger.info("xdg-open could not start: %s", error)
            return False
        threading.Thread(
            target=self._watch, args=(opener, path), name="xdg-open", daemon=True
        ).start()
        return True

    def _watch(self, opener: subprocess.Popen[bytes], path: str) -> None:
        try:
            _, said = opener.communicate(timeout=VERDICT_S)
        except subprocess.TimeoutExpired:
            opener.communicate()  # a program has it; read on, so nothing blocks on its output
            return
        if opener.returncode != 0:
            reason = said.decode(errors="replace").strip().splitlines()[-1:] or ["no reason"]
            logger.info("no program opened %s (xdg-open: %s)", path, reason[0])
            self.failed.emit(path)
