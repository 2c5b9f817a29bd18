"""The Outbox in words: each message's state, what happens next (the open window sends waiting
messages again when their next try has come), local times, and a details
pane with the mail server's whole answer and the history (the internal ID behind Details).

Times are stored in UTC and shown in the computer's time zone; a "next try" that has already
passed is not shown as a time in the past but as what will actually happen.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from ..core.display import human_size
from ..core.transport.outbox import FAILED, HANDED_OVER, QUEUED, SENDING, SENT, OutboxItem
from .widgets import Details, plain_label, visible
from .words import as_local, local_time, utc_text

COLUMNS = ("State", "To", "Subject", "Last change", "What happens next")
STATE_WORDS = {
    QUEUED: "Waiting",
    SENDING: "Sending",
    HANDED_OVER: "Answer missing, will be sent again",
    SENT: "Sent",
    FAILED: "Failed",
}
STATE_COLOURS = {QUEUED: "#9a6700", SENDING: "#3c4a5c", HANDED_OVER: "#9a6700", SENT: "#1b7f3b", FAILED: "#b3261e"}


def next_step(item: OutboxItem, now: dt.datetime | None = None) -> str:
    """What happens to the message next, in words (never a time that has passed)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if item.state == SENT:
        return "Nothing: the mail server accepted it."
    if item.state == SENDING:
        return "It is being sent right now."
    if item.state == HANDED_OVER:
        return ("The server got all of it but did not confirm: it is sent again with the same Message-ID "
                "(rarely, the recipient gets it twice).")
    if item.state == FAILED:
        return "Not sent again by itself: fix the cause, then press Retry selected."
    due = as_local(item.next_attempt)
    if due is not None and due > now:
        return f"Next try {local_time(due, now=now)} while smimehelper is open, or now with Send all waiting."
    if item.attempts:
        return "Tried again within a minute while smimehelper is open (password at hand), or now with Send all waiting."
    return "Sent when you press Send all waiting (or Retry selected)."


def row_texts(item: OutboxItem, now: dt.datetime | None = None) -> tuple[str, ...]:
    return (
        STATE_WORDS.get(item.state, item.state),
        ", ".join(item.recipients),
        item.subject or "(no subject)",
        local_time(item.updated, now=now),
        next_step(item, now),
    )


class OutboxDetails(QGroupBox):
    """The selected message: everything the table has no room for."""

    FIELDS = (("state", "State:"), ("to", "To:"), ("subject", "Subject:"), ("next", "Next:"),
              ("reply", "Mail server's answer:"), ("size", "Size:"), ("created", "Put in the outbox:"),
              ("attempts", "Tries:"), ("history", "History:"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Message details", parent)
        form = QFormLayout(self)
        self.labels: dict[str, QLabel] = {}
        for key, caption in self.FIELDS:
            label = plain_label()
            label.setAccessibleName(caption.rstrip(":"))
            self.labels[key] = label
            form.addRow(caption, label)
        self.technical = Details(name="Technical details")
        form.addRow("", self.technical)
        self.show_item(None)

    def show_item(self, item: OutboxItem | None, now: dt.datetime | None = None) -> None:
        labels = self.labels
        if item is None:
            for label in labels.values():
                label.setText("")
            labels["state"].setText("Select a message to see what happened to it.")
            self.technical.set_text("")
            return
        labels["state"].setText(STATE_WORDS.get(item.state, item.state))
        labels["to"].setText(visible(", ".join(item.recipients)))
        labels["subject"].setText(visible(item.subject) or "(no subject)")
        labels["next"].setText(next_step(item, now))
        labels["reply"].setText(visible(item.last_reply, multiline=True) or "(none yet)")
        labels["size"].setText(human_size(item.size))
        labels["created"].setText(local_time(item.created, now=now))
        labels["attempts"].setText(str(item.attempts))
        labels["history"].setText("\n".join(
            f"{local_time(when, now=now, seconds=True)}: {STATE_WORDS.get(state, state)}{' - ' + visible(text) if text else ''}"
            for when, state, text in item.history[-10:]))
        self.technical.set_text("\n".join([
            f"Outbox ID: {item.id}",
            f"Envelope sender: {visible(item.envelope_from)}; account: {visible(item.account)}",
            f"Size: {item.size} bytes",
            f"Created: {utc_text(item.created)}; last change: {utc_text(item.updated)}",
            *( [f"Next try: {utc_text(item.next_attempt)}"] if item.next_attempt else []),
        ]))


__all__ = ["COLUMNS", "OutboxDetails", "STATE_COLOURS", "STATE_WORDS", "next_step", "row_texts"]
