"""aiosmtpd (servers.SmtpServer) with the faults the concurrency and crash tests need.

``FaultSmtpServer`` is ``SmtpServer`` plus three knobs, all off by default:

* ``hold_rcpt``: an address; a RCPT TO for it is answered only after ``release()`` (``holding``
  is set when the pause begins). Only that message waits: other sessions go on, so one sender
  can be held "in flight" while others run.
* ``data_delay``: seconds to wait before answering each DATA (as a busy server does), so that
  concurrent senders really overlap.
* ``kill_pid`` (+ ``kill_delay``): when set, the server accepts a message, writes "250" to the
  client and then SIGKILLs that process ``kill_delay`` seconds later (0: the instant the answer
  is out) and drops the connection: the crash between the server's acceptance and the client's
  record of it, decided by a real race instead of a hook.

``message_ids()`` lists the Message-ID header of every accepted message, to count deliveries.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections import Counter
from typing import Any

from tests.transport.servers import SmtpServer, _Handler

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def message_id(data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    assert match, "a message without Message-ID"
    return match.group(1).decode("ascii")


class _FaultHandler(_Handler):
    owner: FaultSmtpServer

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        owner = self.owner
        if owner.hold_rcpt is not None and address.lower() == owner.hold_rcpt:
            await self._pause()
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        owner = self.owner
        if owner.data_delay:
            await asyncio.sleep(owner.data_delay)
        reply = await super().handle_DATA(server, session, envelope)  # records it (accepted)
        pid = owner.kill_pid
        if pid is None or not reply.startswith("250"):
            return reply
        owner.kill_pid = None  # one kill per arming
        await server.push(reply)  # the answer is on its way to the client ...
        if owner.kill_delay:
            await asyncio.sleep(owner.kill_delay)
        try:
            os.kill(pid, signal.SIGKILL)  # ... and the client dies before, while or after it records it
        except ProcessLookupError:
            pass
        owner.kills += 1
        server.transport.abort()
        await asyncio.get_running_loop().create_future()  # never answers again: cancelled on close
        return reply  # not reached


class FaultSmtpServer(SmtpServer):
    def __init__(self, *args: Any, hold_rcpt: str | None = None, data_delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold_rcpt = hold_rcpt.lower() if hold_rcpt else None
        self.data_delay = data_delay
        self.kill_pid: int | None = None
        self.kill_delay = 0.0
        self.kills = 0
        self._handler = _FaultHandler(self)

    def message_ids(self) -> Counter[str]:
        with self._lock:
            return Counter(message_id(m.data) for m in self.received)
