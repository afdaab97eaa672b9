from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DataPiece(_message.Message):
    __slots__ = ("data_id", "chain", "data", "handle", "offset", "token")
    DATA_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    data_id: str
    chain: _containers.RepeatedScalarFieldContainer[str]
    data: bytes
    handle: int
    offset: int
    token: bytes
    def __init__(self, data_id: _Optional[str] = ..., chain: _Optional[_Iterable[str]] = ..., data: _Optional[bytes] = ..., handle: _Optional[int] = ..., offset: _Optional[int] = ..., token: _Optional[bytes] = ...) -> None: ...

class PushDataResponse(_message.Message):
    __slots__ = ("length",)
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    length: int
    def __init__(self, length: _Optional[int] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("handle", "version", "offset", "data_id", "token", "data", "path")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    offset: int
    data_id: str
    token: bytes
    data: bytes
    path: str
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., offset: _Optional[int] = ..., data_id: _Optional[str] = ..., token: _Optional[bytes] = ..., data: _Optional[bytes] = ..., path: _Optional[str] = ...) -> None: ...

class ApplyWriteRequest(_message.Message):
    __slots__ = ("handle", "version", "offset", "data_id", "serial", "record_id", "pad_to", "token", "data")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    PAD_TO_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    offset: int
    data_id: str
    serial: int
    record_id: str
    pad_to: int
    token: bytes
    data: bytes
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., offset: _Optional[int] = ..., data_id: _Optional[str] = ..., serial: _Optional[int] = ..., record_id: _Optional[str] = ..., pad_to: _Optional[int] = ..., token: _Optional[bytes] = ..., data: _Optional[bytes] = ...) -> None: ...

class ApplyAppendsRequest(_message.Message):
    __slots__ = ("handle", "version", "token", "appends")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    APPENDS_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    token: bytes
    appends: _containers.RepeatedCompositeFieldContainer[ApplyWriteRequest]
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., token: _Optional[bytes] = ..., appends: _Optional[_Iterable[_Union[ApplyWriteRequest, _Mapping]]] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("handle", "version", "data_id", "record_id", "token", "data", "path")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DATA_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    data_id: str
    record_id: str
    token: bytes
    data: bytes
    path: str
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., data_id: _Optional[str] = ..., record_id: _Optional[str] = ..., token: _Optional[bytes] = ..., data: _Optional[bytes] = ..., path: _Optional[str] = ...) -> None: ...

class AppendResponse(_message.Message):
    __slots__ = ("offset", "padded", "duplicate", "extended")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PADDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_FIELD_NUMBER: _ClassVar[int]
    offset: int
    padded: bool
    duplicate: bool
    extended: bool
    def __init__(self, offset: _Optional[int] = ..., padded: _Optional[bool] = ..., duplicate: _Optional[bool] = ..., extended: _Optional[bool] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("chunk_length", "extended")
    CHUNK_LENGTH_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_FIELD_NUMBER: _ClassVar[int]
    chunk_length: int
    extended: bool
    def __init__(self, chunk_length: _Optional[int] = ..., extended: _Optional[bool] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("handle", "version", "offset", "length", "token", "proof")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    offset: int
    length: int
    token: bytes
    proof: bytes
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., token: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class ReadPiece(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class SetVersionRequest(_message.Message):
    __slots__ = ("handle", "version", "create", "epoch")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    create: bool
    epoch: int
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., create: _Optional[bool] = ..., epoch: _Optional[int] = ...) -> None: ...

class CreateReplicasRequest(_message.Message):
    __slots__ = ("handles", "version", "epoch")
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    handles: _containers.RepeatedScalarFieldContainer[int]
    version: int
    epoch: int
    def __init__(self, handles: _Optional[_Iterable[int]] = ..., version: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class GrantLeaseRequest(_message.Message):
    __slots__ = ("handle", "version", "seconds", "secondaries", "chunk_size", "token", "epoch")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SECONDARIES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    seconds: float
    secondaries: _containers.RepeatedScalarFieldContainer[str]
    chunk_size: int
    token: bytes
    epoch: int
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., seconds: _Optional[float] = ..., secondaries: _Optional[_Iterable[str]] = ..., chunk_size: _Optional[int] = ..., token: _Optional[bytes] = ..., epoch: _Optional[int] = ...) -> None: ...

class RevokeLeaseRequest(_message.Message):
    __slots__ = ("handle", "version", "epoch")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    epoch: int
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class Replica(_message.Message):
    __slots__ = ("handle", "version", "length")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    length: int
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("without_replicas",)
    WITHOUT_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    without_replicas: bool
    def __init__(self, without_replicas: _Optional[bool] = ...) -> None: ...

class Description(_message.Message):
    __slots__ = ("rack", "used_bytes", "free_bytes", "replicas", "corrupt", "http", "plain_reads", "failed_dirs", "slow_dirs", "replica_count")
    RACK_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    PLAIN_READS_FIELD_NUMBER: _ClassVar[int]
    FAILED_DIRS_FIELD_NUMBER: _ClassVar[int]
    SLOW_DIRS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_COUNT_FIELD_NUMBER: _ClassVar[int]
    rack: str
    used_bytes: int
    free_bytes: int
    replicas: _containers.RepeatedCompositeFieldContainer[Replica]
    corrupt: _containers.RepeatedScalarFieldContainer[int]
    http: str
    plain_reads: str
    failed_dirs: _containers.RepeatedScalarFieldContainer[str]
    slow_dirs: _containers.RepeatedScalarFieldContainer[str]
    replica_count: int
    def __init__(self, rack: _Optional[str] = ..., used_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., replicas: _Optional[_Iterable[_Union[Replica, _Mapping]]] = ..., corrupt: _Optional[_Iterable[int]] = ..., http: _Optional[str] = ..., plain_reads: _Optional[str] = ..., failed_dirs: _Optional[_Iterable[str]] = ..., slow_dirs: _Optional[_Iterable[str]] = ..., replica_count: _Optional[int] = ...) -> None: ...

class ReplicaInfoRequest(_message.Message):
    __slots__ = ("handle", "version", "without_crcs")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_CRCS_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    without_crcs: bool
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., without_crcs: _Optional[bool] = ...) -> None: ...

class ReplicaInfoResponse(_message.Message):
    __slots__ = ("length", "crcs", "record_ids")
    class RecordIdsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    CRCS_FIELD_NUMBER: _ClassVar[int]
    RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    length: int
    crcs: _containers.RepeatedScalarFieldContainer[int]
    record_ids: _containers.ScalarMap[str, int]
    def __init__(self, length: _Optional[int] = ..., crcs: _Optional[_Iterable[int]] = ..., record_ids: _Optional[_Mapping[str, int]] = ...) -> None: ...

class CloneFromRequest(_message.Message):
    __slots__ = ("handle", "version", "source")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    source: str
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class CopyLocalRequest(_message.Message):
    __slots__ = ("handle", "version", "new_handle", "new_version")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NEW_HANDLE_FIELD_NUMBER: _ClassVar[int]
    NEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    new_handle: int
    new_version: int
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., new_handle: _Optional[int] = ..., new_version: _Optional[int] = ...) -> None: ...
