from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_MODE_UNSPECIFIED: _ClassVar[SearchMode]
    SEARCH_MODE_HYBRID: _ClassVar[SearchMode]
    SEARCH_MODE_VECTOR: _ClassVar[SearchMode]
    SEARCH_MODE_TEXT: _ClassVar[SearchMode]
SEARCH_MODE_UNSPECIFIED: SearchMode
SEARCH_MODE_HYBRID: SearchMode
SEARCH_MODE_VECTOR: SearchMode
SEARCH_MODE_TEXT: SearchMode

class Filter(_message.Message):
    __slots__ = ("genres_any", "genres_all", "genres_none", "year_from", "year_to", "min_rating")
    GENRES_ANY_FIELD_NUMBER: _ClassVar[int]
    GENRES_ALL_FIELD_NUMBER: _ClassVar[int]
    GENRES_NONE_FIELD_NUMBER: _ClassVar[int]
    YEAR_FROM_FIELD_NUMBER: _ClassVar[int]
    YEAR_TO_FIELD_NUMBER: _ClassVar[int]
    MIN_RATING_FIELD_NUMBER: _ClassVar[int]
    genres_any: _containers.RepeatedScalarFieldContainer[str]
    genres_all: _containers.RepeatedScalarFieldContainer[str]
    genres_none: _containers.RepeatedScalarFieldContainer[str]
    year_from: int
    year_to: int
    min_rating: float
    def __init__(self, genres_any: _Optional[_Iterable[str]] = ..., genres_all: _Optional[_Iterable[str]] = ..., genres_none: _Optional[_Iterable[str]] = ..., year_from: _Optional[int] = ..., year_to: _Optional[int] = ..., min_rating: _Optional[float] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "filter", "limit", "offset", "mode", "min_probability", "no_translate", "exclude", "exclude_movie_ids", "diverse")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MIN_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    NO_TRANSLATE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FIELD_NUMBER: _ClassVar[int]
    query: str
    filter: Filter
    limit: int
    offset: int
    mode: SearchMode
    min_probability: float
    no_translate: bool
    exclude: _containers.RepeatedScalarFieldContainer[str]
    exclude_movie_ids: _containers.RepeatedScalarFieldContainer[str]
    diverse: bool
    def __init__(self, query: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., min_probability: _Optional[float] = ..., no_translate: _Optional[bool] = ..., exclude: _Optional[_Iterable[str]] = ..., exclude_movie_ids: _Optional[_Iterable[str]] = ..., diverse: _Optional[bool] = ...) -> None: ...

class SearchByImageRequest(_message.Message):
    __slots__ = ("image", "filter", "limit", "offset", "query", "exclude", "exclude_movie_ids", "diverse")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    filter: Filter
    limit: int
    offset: int
    query: str
    exclude: _containers.RepeatedScalarFieldContainer[str]
    exclude_movie_ids: _containers.RepeatedScalarFieldContainer[str]
    diverse: bool
    def __init__(self, image: _Optional[bytes] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., query: _Optional[str] = ..., exclude: _Optional[_Iterable[str]] = ..., exclude_movie_ids: _Optional[_Iterable[str]] = ..., diverse: _Optional[bool] = ...) -> None: ...

class SimilarPostersRequest(_message.Message):
    __slots__ = ("movie_id", "filter", "limit", "offset", "query", "exclude", "exclude_movie_ids", "diverse")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FIELD_NUMBER: _ClassVar[int]
    movie_id: str
    filter: Filter
    limit: int
    offset: int
    query: str
    exclude: _containers.RepeatedScalarFieldContainer[str]
    exclude_movie_ids: _containers.RepeatedScalarFieldContainer[str]
    diverse: bool
    def __init__(self, movie_id: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., query: _Optional[str] = ..., exclude: _Optional[_Iterable[str]] = ..., exclude_movie_ids: _Optional[_Iterable[str]] = ..., diverse: _Optional[bool] = ...) -> None: ...

class Poster(_message.Message):
    __slots__ = ("movie_id", "title", "year", "genres", "rating", "poster")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    GENRES_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    POSTER_FIELD_NUMBER: _ClassVar[int]
    movie_id: str
    title: str
    year: int
    genres: _containers.RepeatedScalarFieldContainer[str]
    rating: float
    poster: str
    def __init__(self, movie_id: _Optional[str] = ..., title: _Optional[str] = ..., year: _Optional[int] = ..., genres: _Optional[_Iterable[str]] = ..., rating: _Optional[float] = ..., poster: _Optional[str] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("poster", "score", "found_by", "probability")
    POSTER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    poster: Poster
    score: float
    found_by: _containers.RepeatedScalarFieldContainer[str]
    probability: float
    def __init__(self, poster: _Optional[_Union[Poster, _Mapping]] = ..., score: _Optional[float] = ..., found_by: _Optional[_Iterable[str]] = ..., probability: _Optional[float] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("source", "text", "model_id", "scripts")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SCRIPTS_FIELD_NUMBER: _ClassVar[int]
    source: str
    text: str
    model_id: str
    scripts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source: _Optional[str] = ..., text: _Optional[str] = ..., model_id: _Optional[str] = ..., scripts: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryTokens(_message.Message):
    __slots__ = ("tokens", "read", "read_text")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    READ_TEXT_FIELD_NUMBER: _ClassVar[int]
    tokens: int
    read: int
    read_text: str
    def __init__(self, tokens: _Optional[int] = ..., read: _Optional[int] = ..., read_text: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "model_id", "mode", "notice", "translation", "no_good_match", "query_tokens")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    NO_GOOD_MATCH_FIELD_NUMBER: _ClassVar[int]
    QUERY_TOKENS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    model_id: str
    mode: SearchMode
    notice: str
    translation: Translation
    no_good_match: bool
    query_tokens: QueryTokens
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., model_id: _Optional[str] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., notice: _Optional[str] = ..., translation: _Optional[_Union[Translation, _Mapping]] = ..., no_good_match: _Optional[bool] = ..., query_tokens: _Optional[_Union[QueryTokens, _Mapping]] = ...) -> None: ...

class ListGenresRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GenreCount(_message.Message):
    __slots__ = ("genre", "count")
    GENRE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    genre: str
    count: int
    def __init__(self, genre: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ListGenresResponse(_message.Message):
    __slots__ = ("genres",)
    GENRES_FIELD_NUMBER: _ClassVar[int]
    genres: _containers.RepeatedCompositeFieldContainer[GenreCount]
    def __init__(self, genres: _Optional[_Iterable[_Union[GenreCount, _Mapping]]] = ...) -> None: ...
