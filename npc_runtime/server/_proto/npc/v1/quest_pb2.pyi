from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QuestState(_message.Message):
    __slots__ = ("stages", "revealed_facts", "player_items")
    class StagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STAGES_FIELD_NUMBER: _ClassVar[int]
    REVEALED_FACTS_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ITEMS_FIELD_NUMBER: _ClassVar[int]
    stages: _containers.ScalarMap[str, str]
    revealed_facts: _containers.RepeatedScalarFieldContainer[str]
    player_items: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stages: _Optional[_Mapping[str, str]] = ..., revealed_facts: _Optional[_Iterable[str]] = ..., player_items: _Optional[_Iterable[str]] = ...) -> None: ...

class GetQuestStateRequest(_message.Message):
    __slots__ = ("player_id",)
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    def __init__(self, player_id: _Optional[str] = ...) -> None: ...

class GetQuestStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: QuestState
    def __init__(self, state: _Optional[_Union[QuestState, _Mapping]] = ...) -> None: ...

class SetQuestStateRequest(_message.Message):
    __slots__ = ("player_id", "state")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    state: QuestState
    def __init__(self, player_id: _Optional[str] = ..., state: _Optional[_Union[QuestState, _Mapping]] = ...) -> None: ...

class SetQuestStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: QuestState
    def __init__(self, state: _Optional[_Union[QuestState, _Mapping]] = ...) -> None: ...
