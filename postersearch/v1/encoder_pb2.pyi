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
    __slots__ = ("vectors", "model_id")
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    model_id: str
    def __init__(self, vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ..., model_id: _Optional[str] = ...) -> None: ...

class EncodeImagesRequest(_message.Message):
    __slots__ = ("images", "sequence")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedScalarFieldContainer[bytes]
    sequence: int
    def __init__(self, images: _Optional[_Iterable[bytes]] = ..., sequence: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("results", "sequence", "model_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImageResult]
    sequence: int
    model_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[ImageResult, _Mapping]]] = ..., sequence: _Optional[int] = ..., model_id: _Optional[str] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EncoderInfo(_message.Message):
    __slots__ = ("model_id", "dimension", "device", "dtype", "max_batch_size", "max_text_chars", "max_image_bytes", "max_image_pixels", "max_message_bytes", "image_size")
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
    def __init__(self, model_id: _Optional[str] = ..., dimension: _Optional[int] = ..., device: _Optional[str] = ..., dtype: _Optional[str] = ..., max_batch_size: _Optional[int] = ..., max_text_chars: _Optional[int] = ..., max_image_bytes: _Optional[int] = ..., max_image_pixels: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., image_size: _Optional[int] = ...) -> None: ...
