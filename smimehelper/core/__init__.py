"""The library: no Qt, no printing, no prompting. Raises typed errors from :mod:`.errors`."""
