from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_ERROR_CODE_UNSPECIFIED: _ClassVar[ImageErrorCode]
    IMAGE_ERROR_CODE_EMPTY: _ClassVar[ImageErrorCode]
    IMAGE_ERROR_CODE_TOO_MANY_BYTES: _ClassVar[ImageErrorCode]
    IMAGE_ERROR_CODE_TOO_MANY_PIXELS: _ClassVar[ImageErrorCode]
    IMAGE_ERROR_CODE_UNDECODABLE: _ClassVar[ImageErrorCode]
IMAGE_ERROR_CODE_UNSPECIFIED: ImageErrorCode
IMAGE_ERROR_CODE_EMPTY: ImageErrorCode
IMAGE_ERROR_CODE_TOO_MANY_BYTES: ImageErrorCode
IMAGE_ERROR_CODE_TOO_MANY_PIXELS: ImageErrorCode
IMAGE_ERROR_CODE_UNDECODABLE: ImageErrorCode

class Vector(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class EncodeTextRequest(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Optional[_Iterable[str]] = ...) -> None: ...

class EncodeTextResponse(_message.Message):
    __slots__ = ("vectors", "model_id", "tokens")
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    model_id: str
    tokens: _containers.RepeatedCompositeFieldContainer[TextTokens]
    def __init__(self, vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ..., model_id: _Optional[str] = ..., tokens: _Optional[_Iterable[_Union[TextTokens, _Mapping]]] = ...) -> None: ...

class TextTokens(_message.Message):
    __slots__ = ("tokens", "read", "read_text")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    READ_TEXT_FIELD_NUMBER: _ClassVar[int]
    tokens: int
    read: int
    read_text: str
    def __init__(self, tokens: _Optional[int] = ..., read: _Optional[int] = ..., read_text: _Optional[str] = ...) -> None: ...

class TranslateRequest(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Optional[_Iterable[str]] = ...) -> None: ...

class TranslateResponse(_message.Message):
    __slots__ = ("translations", "model_id")
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    translations: _containers.RepeatedScalarFieldContainer[str]
    model_id: str
    def __init__(self, translations: _Optional[_Iterable[str]] = ..., model_id: _Optional[str] = ...) -> None: ...

class EncodeImagesRequest(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, images: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ImageError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: ImageErrorCode
    message: str
    def __init__(self, code: _Optional[_Union[ImageErrorCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ImageResult(_message.Message):
    __slots__ = ("index", "vector", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    vector: Vector
    error: ImageError
    def __init__(self, index: _Optional[int] = ..., vector: _Optional[_Union[Vector, _Mapping]] = ..., error: _Optional[_Union[ImageError, _Mapping]] = ...) -> None: ...

class EncodeImagesResponse(_message.Message):
    __slots__ = ("results", "model_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImageResult]
    model_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[ImageResult, _Mapping]]] = ..., model_id: _Optional[str] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EncoderInfo(_message.Message):
    __slots__ = ("model_id", "dimension", "device", "dtype", "max_batch_size", "max_text_chars", "max_image_bytes", "max_image_pixels", "max_message_bytes", "image_size", "max_text_tokens", "logit_scale", "logit_bias", "text_preprocessing", "translator_model_id", "translation_scripts")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGE_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LOGIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    LOGIT_BIAS_FIELD_NUMBER: _ClassVar[int]
    TEXT_PREPROCESSING_FIELD_NUMBER: _ClassVar[int]
    TRANSLATOR_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_SCRIPTS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    dimension: int
    device: str
    dtype: str
    max_batch_size: int
    max_text_chars: int
    max_image_bytes: int
    max_image_pixels: int
    max_message_bytes: int
    image_size: int
    max_text_tokens: int
    logit_scale: float
    logit_bias: float
    text_preprocessing: str
    translator_model_id: str
    translation_scripts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_id: _Optional[str] = ..., dimension: _Optional[int] = ..., device: _Optional[str] = ..., dtype: _Optional[str] = ..., max_batch_size: _Optional[int] = ..., max_text_chars: _Optional[int] = ..., max_image_bytes: _Optional[int] = ..., max_image_pixels: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., image_size: _Optional[int] = ..., max_text_tokens: _Optional[int] = ..., logit_scale: _Optional[float] = ..., logit_bias: _Optional[float] = ..., text_preprocessing: _Optional[str] = ..., translator_model_id: _Optional[str] = ..., translation_scripts: _Optional[_Iterable[str]] = ...) -> None: ...
