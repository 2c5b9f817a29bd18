"""Fixtures for the interop corpus: built once per session with the real OpenSSL and NSS tools."""

from __future__ import annotations

import pytest

from tests.interop.corpus import NssVector, Vector, build_corpus, nss_vectors as _nss_vectors
from tests.pki.make_pki import Pki


@pytest.fixture(scope="session")
def corpus(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> list[Vector]:
    """Every vector of ``corpus.VECTOR_NAMES``, produced into a session temp dir (about 1 s)."""
    return build_corpus(pki, tmp_path_factory.mktemp("interop-corpus"))


@pytest.fixture(scope="session")
def corpus_by_name(corpus: list[Vector]) -> dict[str, Vector]:
    """The corpus keyed by vector name (for tests parametrised over ``VECTOR_NAMES``)."""
    return {v.name: v for v in corpus}


@pytest.fixture(scope="session")
def nss_vectors(tmp_path_factory: pytest.TempPathFactory) -> list[NssVector]:
    """The NSS project's OpenSSL-made vectors, each also wrapped as an S/MIME .eml."""
    return _nss_vectors(tmp_path_factory.mktemp("nss-openssl-eml"))
