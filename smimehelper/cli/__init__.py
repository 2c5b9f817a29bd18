"""The command line: argument parsing, prompting and printing over :mod:`smimehelper.services`."""
