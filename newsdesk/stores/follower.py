"""Keeps a process's derived indexes in step with writes other processes commit to a shared
(PostgreSQL) article store: API replicas over one collection.

Every write records its chunk changes in the store's change log, in its own transaction, and
NOTIFYs its generation at commit. The follower thread LISTENs for that and applies what was
committed after the generation its indexes reflect (``DerivedIndexes.catch_up``); it also
looks every ``follow_seconds`` whether or not a notification came (one can be missed while the
listening connection is down), so polling is the floor. A replica that was stopped catches up
from the generation its saved snapshot records when it opens again."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from newsdesk.stores.connections import DatabaseTarget
from newsdesk.stores.derived import DerivedIndexes

if TYPE_CHECKING:
    from newsdesk.stores.postgres import PostgresConnection

log = logging.getLogger(__name__)


class ChangeFollower:
    def __init__(self, indexes: DerivedIndexes, database: DatabaseTarget, seconds: float) -> None:
        self.indexes = indexes
        self.database = database
        self.seconds = seconds
        self.applied = 0  # writes of other processes applied (read by tests and logs)
        self._stop = threading.Event()
        self._listen_failing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.seconds + 5)

    def _run(self) -> None:
        listener: PostgresConnection | None = None
        failing = False
        while not self._stop.is_set():
            try:
                self.applied += self.indexes.catch_up()
                if failing:
                    log.info("applying other processes' writes works again")
                failing = False
            except Exception:
                if not failing:  # once per outage, not once per poll
                    log.exception("applying other processes' writes failed; will retry")
                failing = True
            listener = self._wait(listener)
        if listener is not None:
            listener.close()

    def _wait(self, listener: PostgresConnection | None) -> PostgresConnection | None:
        """Until a write is announced or ``seconds`` pass; the listener to use next time
        (None after it failed: the next wait opens another)."""
        try:
            if listener is None:
                listener = self._listen()
            self._listen_failing = False
            for _ in listener.notifications(self.seconds):
                break
            return listener
        except Exception as exc:
            if not self._listen_failing:
                log.warning(
                    "listening for writes failed (%s); polling every %g s", exc, self.seconds
                )
            self._listen_failing = True
            if listener is not None:
                listener.close()
            self._stop.wait(self.seconds)
            return None

    def _listen(self) -> PostgresConnection:
        from newsdesk.stores.postgres import PostgresConnection  # psycopg: an optional extra

        listener = PostgresConnection(str(self.database))
        listener.listen()
        return listener
