"""A minimal client for Marionette, the remote protocol built into every Gecko program.

Why our own: Thunderbird 153 ships Marionette (``-marionette``) but the PyPI client
(``marionette-driver``) drags in mozrunner, mozprofile and friends for what is, here, a
handful of commands. The protocol (WebDriver over a TCP stream) is: the server greets with
``<len>:{"applicationType": "gecko", "marionetteProtocol": 3}``; each command is
``<len>:[0, id, "Name", {params}]`` and each answer ``<len>:[1, id, error|null, result]``,
``<len>`` being the decimal byte length of the JSON that follows the colon.

The tests use it only to *watch* Thunderbird and to call what its own menus call (the
``cmd_sendUnsentMsgs`` command of File > Send Unsent Messages, the composer's Send); every
byte that leaves Thunderbird is produced by Thunderbird itself.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any


class MarionetteError(RuntimeError):
    pass


class Marionette:
    """One Marionette session on 127.0.0.1:``port`` (see module doc)."""

    def __init__(self, port: int, *, timeout: float = 60.0) -> None:
        self.port = port
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = b""
        self._next_id = 0
        greeting = self._read()
        if not isinstance(greeting, dict) or greeting.get("marionetteProtocol") != 3:
            raise MarionetteError(f"not a Marionette server: {greeting!r}")
        self.capabilities = self.command("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {}}})

    # ---- wire

    def _read(self) -> Any:
        while b":" not in self._buffer:
            self._fill()
        length, _, rest = self._buffer.partition(b":")
        size = int(length)
        self._buffer = rest
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return json.loads(data)

    def _fill(self) -> None:
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            raise MarionetteError("Marionette closed the connection")
        self._buffer += chunk

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        self._next_id += 1
        payload = json.dumps([0, self._next_id, name, params or {}]).encode("utf-8")
        self._sock.sendall(str(len(payload)).encode("ascii") + b":" + payload)
        while True:
            answer = self._read()
            if isinstance(answer, list) and len(answer) == 4 and answer[0] == 1 and answer[1] == self._next_id:
                break
        _, _, error, result = answer
        if error:
            raise MarionetteError(f"{name}: {error.get('error')}: {error.get('message')}")
        if isinstance(result, dict) and set(result) == {"value"}:
            return result["value"]
        return result

    # ---- conveniences

    def chrome(self) -> None:
        """Run scripts in the privileged (chrome) context of the current window."""
        self.command("Marionette:SetContext", {"value": "chrome"})

    def window_handles(self) -> list[str]:
        return list(self.command("WebDriver:GetWindowHandles"))

    def switch_to(self, handle: str) -> None:
        self.command("WebDriver:SwitchToWindow", {"handle": handle, "focus": True})

    def script(self, source: str, *args: Any, timeout_ms: int = 60_000) -> Any:
        """Run ``source`` as a function body (``arguments`` holds ``args``); awaits a returned Promise."""
        self.command("WebDriver:SetTimeouts", {"script": timeout_ms})
        return self.command("WebDriver:ExecuteScript", {"script": source, "args": list(args)})

    def wait_for(self, source: str, *args: Any, timeout: float = 60.0, what: str = "condition") -> Any:
        """Poll ``source`` until it returns something truthy (returned)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.script(source, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise MarionetteError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.2)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> Marionette:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
