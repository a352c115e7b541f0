from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TreeFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TREE_FORMAT_UNSPECIFIED: _ClassVar[TreeFormat]
    TREE_FORMAT_JSON: _ClassVar[TreeFormat]
    TREE_FORMAT_YARN: _ClassVar[TreeFormat]
    TREE_FORMAT_INK: _ClassVar[TreeFormat]
TREE_FORMAT_UNSPECIFIED: TreeFormat
TREE_FORMAT_JSON: TreeFormat
TREE_FORMAT_YARN: TreeFormat
TREE_FORMAT_INK: TreeFormat

class GenerateTreeRequest(_message.Message):
    __slots__ = ("spec_id", "seed", "format")
    SPEC_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    spec_id: str
    seed: int
    format: TreeFormat
    def __init__(self, spec_id: _Optional[str] = ..., seed: _Optional[int] = ..., format: _Optional[_Union[TreeFormat, str]] = ...) -> None: ...

class GenerateTreeResponse(_message.Message):
    __slots__ = ("progress", "tree")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    progress: TreeProgress
    tree: GeneratedTree
    def __init__(self, progress: _Optional[_Union[TreeProgress, _Mapping]] = ..., tree: _Optional[_Union[GeneratedTree, _Mapping]] = ...) -> None: ...

class TreeProgress(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class GeneratedTree(_message.Message):
    __slots__ = ("format", "content", "nodes", "problems")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    format: TreeFormat
    content: str
    nodes: int
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, format: _Optional[_Union[TreeFormat, str]] = ..., content: _Optional[str] = ..., nodes: _Optional[int] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...
