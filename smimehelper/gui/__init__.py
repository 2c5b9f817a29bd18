"""The desktop app: PySide6 widgets over :mod:`smimehelper.services`; long work on worker threads.

No crypto, file-format or network code lives here: every action calls a use case.
"""

import ctypes
import sys

if sys.version_info < (3, 12):
    # PySide6 6.12.0 on Python 3.11 drops one reference to None on every Qt call that returns
    # nothing; after tens of thousands of calls (a progress bar during a large study) CPython
    # aborts with "none_dealloc". Python 3.12 made None immortal; give 3.11 the same property.
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
