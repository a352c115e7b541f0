from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_ERROR: Severity
SEVERITY_WARNING: Severity

class WorldSource(_message.Message):
    __slots__ = ("path", "files")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    path: str
    files: WorldFiles
    def __init__(self, path: _Optional[str] = ..., files: _Optional[_Union[WorldFiles, _Mapping]] = ...) -> None: ...

class WorldFiles(_message.Message):
    __slots__ = ("files",)
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.ScalarMap[str, str]
    def __init__(self, files: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Diagnostic(_message.Message):
    __slots__ = ("file", "line", "column", "severity", "code", "message", "hint")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str
    hint: str
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., severity: _Optional[_Union[Severity, str]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class WorldInfo(_message.Message):
    __slots__ = ("name", "version", "npc_ids", "fact_count", "quest_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NPC_IDS_FIELD_NUMBER: _ClassVar[int]
    FACT_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUEST_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    npc_ids: _containers.RepeatedScalarFieldContainer[str]
    fact_count: int
    quest_count: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., npc_ids: _Optional[_Iterable[str]] = ..., fact_count: _Optional[int] = ..., quest_count: _Optional[int] = ...) -> None: ...

class ValidateWorldRequest(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: WorldSource
    def __init__(self, source: _Optional[_Union[WorldSource, _Mapping]] = ...) -> None: ...

class ValidateWorldResponse(_message.Message):
    __slots__ = ("valid", "diagnostics", "world")
    VALID_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    WORLD_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    world: WorldInfo
    def __init__(self, valid: _Optional[bool] = ..., diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ..., world: _Optional[_Union[WorldInfo, _Mapping]] = ...) -> None: ...

class LoadWorldRequest(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: WorldSource
    def __init__(self, source: _Optional[_Union[WorldSource, _Mapping]] = ...) -> None: ...

class LoadWorldResponse(_message.Message):
    __slots__ = ("loaded", "diagnostics", "world")
    LOADED_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    WORLD_FIELD_NUMBER: _ClassVar[int]
    loaded: bool
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    world: WorldInfo
    def __init__(self, loaded: _Optional[bool] = ..., diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ..., world: _Optional[_Union[WorldInfo, _Mapping]] = ...) -> None: ...

class GetWorldInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWorldInfoResponse(_message.Message):
    __slots__ = ("world",)
    WORLD_FIELD_NUMBER: _ClassVar[int]
    world: WorldInfo
    def __init__(self, world: _Optional[_Union[WorldInfo, _Mapping]] = ...) -> None: ...
