"""Fuzzers: run by hand (see README.md); nothing here is collected by pytest."""
