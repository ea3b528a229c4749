"""The words of a movie as Qdrant BM25 terms, Korean particles included."""

from __future__ import annotations

import pytest
import qdrant_edge as edge

from poster_index.lexical import (
    document_terms,
    document_text,
    expand_korean,
    lexical_query,
    strip_particle,
)


def _terms(text: str) -> set[int]:
    terms = document_terms({"title": text})
    return set(terms.indices) if terms is not None else set()


def test_qdrant_multilingual_tokenizer_keeps_a_korean_particle_on_its_word() -> None:
    """What Qdrant's own tokenizer does: "네온사인이" and "네온사인" are different terms."""
    bm25 = edge.Bm25(edge.Bm25Config(tokenizer=edge.TokenizerType.Multilingual))
    with_particle = set(bm25.embed_query("네온사인이").indices)
    bare = set(bm25.embed_query("네온사인").indices)
    assert len(with_particle) == len(bare) == 1
    assert not with_particle & bare


@pytest.mark.parametrize(
    ("query", "document"),
    [
        ("네온사인이", "네온사인"),
        ("네온사인", "비가 오는 도시의 네온사인과 골목"),
        ("카지노를 터는 강도", "강도"),
        ("고양이가", "고양이"),
        ("고양이", "고양이가 사는 집"),
        ("우주에서", "우주"),
    ],
)
def test_korean_words_match_with_or_without_a_particle(query: str, document: str) -> None:
    assert set(lexical_query(query).indices) & _terms(document)


def test_strip_particle() -> None:
    assert strip_particle("네온사인이") == "네온사인"
    assert strip_particle("도시에서") == "도시"
    assert strip_particle("비가") == "비"
    assert strip_particle("가") is None, "a lone particle-like syllable stays"
    assert strip_particle("사이버펑크") is None
    assert expand_korean("네온사인이 많은 city") == "네온사인이 네온사인 많은 많 city"


def test_english_is_stemmed_and_stop_words_dropped() -> None:
    assert set(lexical_query("heists").indices) == _terms("heist")
    assert lexical_query("the a of").is_empty
    query = lexical_query("The Last House Rising")
    assert len(query.words) == 3 and query.min_words == 2


def test_a_whole_title_is_one_more_term() -> None:
    """A query that is exactly a title shares one term more with it than with a movie
    holding the same words elsewhere."""
    exact = _terms("The Last Letter")
    elsewhere = document_terms({"title": "Electric Letter", "overview": "one last heist"})
    assert elsewhere is not None
    scattered = set(elsewhere.indices)
    query = set(lexical_query("the last letter").indices)
    assert len(query & exact) == len(query & scattered) + 1
    assert len(lexical_query("the last letter").words) == 2, "the whole title is no word"


def test_every_text_field_is_matched() -> None:
    payload = {
        "title": "Parasite",
        "original_title": "기생충",
        "alternative_titles": ["Gisaengchung"],
        "overview": "A poor family",
        "tagline": "Act like you own the place.",
        "keywords": ["con artist"],
        "tags": ["dark comedy"],
        "caption": "a man standing in a garden",
        "genres": ["Drama"],
    }
    terms = document_terms(payload)
    assert terms is not None
    for word in (
        "parasite",
        "기생충",
        "gisaengchung",
        "poor",
        "place",
        "artist",
        "comedy",
        "garden",
    ):
        words = {term for terms_of_word in lexical_query(word).words for term in terms_of_word}
        assert words <= set(terms.indices), word
    assert "Drama" not in document_text(payload), "genres are filters, not words"
    assert document_terms({"title": "…", "overview": "The end."}) is not None
    assert document_terms({"title": "…"}) is None, "punctuation alone is no word"


def test_korean_titles_share_no_whole_title_term() -> None:
    assert not set(lexical_query("네온사인이").indices) & _terms("부자 가족")
    assert not set(lexical_query("The Last Letter").indices) & _terms("Dark Night")
