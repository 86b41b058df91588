"""The one place where hub events cross into Qt: each becomes a signal.

Handlers on the hub's bus run on the event-loop thread, which under qasync
is Qt's main thread, so emitting here is safe. Widgets connect to these
signals and never subscribe to the bus themselves.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.events import (
    ActivityRecorded,
    ConfigApplied,
    ConfigProblem,
    EventBus,
    ServerLogLine,
    ServerStateChanged,
    Unsubscribe,
)
from app.core.notices import Notice, Notices


class HubBridge(QObject):
    changed = Signal()  # some server's state changed (coalesced: once per loop turn)
    log_line = Signal(str, str)  # server, stamped line (already redacted)
    notice = Signal(object)  # a Notice worth a desktop notification
    withdrawn = Signal(str)  # the slot of a notice that is over (Notice.slot)
    config_problem = Signal(str)  # the first error line; "" once a config applied cleanly
    # New rows of the activity record (app.core.activity), oldest first, a batch at a time.
    activity = Signal(list)

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self._pending = False
        self.notices = Notices(bus, self._notice, self.withdrawn.emit)
        self._unsubscribe: list[Unsubscribe] = [
            bus.subscribe(ServerStateChanged, self._state_changed),
            bus.subscribe(ServerLogLine, self._logged),
            bus.subscribe(ConfigProblem, self._config_problem),
            bus.subscribe(ConfigApplied, lambda event: self.config_problem.emit("")),
            bus.subscribe(ActivityRecorded, self._recorded),
        ]

    def close(self) -> None:
        self.notices.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _state_changed(self, event: ServerStateChanged) -> None:
        if not self._pending:  # a burst of transitions repaints once
            self._pending = True
            QTimer.singleShot(0, self._emit_changed)

    def _emit_changed(self) -> None:
        self._pending = False
        self.changed.emit()

    def _logged(self, event: ServerLogLine) -> None:
        self.log_line.emit(event.server, event.stamped())

    def _recorded(self, event: ActivityRecorded) -> None:
        self.activity.emit(list(event.rows))

    def _config_problem(self, event: ConfigProblem) -> None:
        self.config_problem.emit(event.errors[0] if event.errors else event.path)

    def _notice(self, notice: Notice) -> None:
        self.notice.emit(notice)
