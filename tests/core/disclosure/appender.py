"""A process that appends entries to a log (for the two-writers and kill -9 tests).

``python -m tests.core.disclosure.appender FOLDER COUNT PADDING`` appends COUNT transfer entries,
each with a PADDING-byte field (large entries make a write take long enough to be killed
in the middle), printing each seq once it is durable.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from smimehelper.core.disclosure.store import DisclosureLog
from tests.core.disclosure.helpers import transfer


def main() -> None:
    folder, count, padding = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    log = DisclosureLog(folder, lock_timeout=120)
    padding_text = "x" * padding  # one long field: the time goes into write(), not into encoding
    for n in range(count):
        data = transfer(n).to_data()
        if padding:
            data["padding"] = padding_text
        entry = log.append("transfer", data, dt.datetime.now(dt.timezone.utc))
        print(entry.seq, flush=True)


if __name__ == "__main__":
    main()
