from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MkdirRequest(_message.Message):
    __slots__ = ("path", "parents")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    parents: bool
    def __init__(self, path: _Optional[str] = ..., parents: _Optional[bool] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("path", "replication", "first_chunk")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    FIRST_CHUNK_FIELD_NUMBER: _ClassVar[int]
    path: str
    replication: int
    first_chunk: bool
    def __init__(self, path: _Optional[str] = ..., replication: _Optional[int] = ..., first_chunk: _Optional[bool] = ...) -> None: ...

class CreateReply(_message.Message):
    __slots__ = ("first_chunk", "chunk_size")
    FIRST_CHUNK_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    first_chunk: ChunkLocation
    chunk_size: int
    def __init__(self, first_chunk: _Optional[_Union[ChunkLocation, _Mapping]] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class CreateManyRequest(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[CreateRequest]
    def __init__(self, files: _Optional[_Iterable[_Union[CreateRequest, _Mapping]]] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("error", "kinds")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    error: str
    kinds: str
    def __init__(self, error: _Optional[str] = ..., kinds: _Optional[str] = ...) -> None: ...

class CreateManyReply(_message.Message):
    __slots__ = ("outcomes", "chunk_size")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[Outcome]
    chunk_size: int
    def __init__(self, outcomes: _Optional[_Iterable[_Union[Outcome, _Mapping]]] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class SetReplicationRequest(_message.Message):
    __slots__ = ("path", "replication")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    path: str
    replication: int
    def __init__(self, path: _Optional[str] = ..., replication: _Optional[int] = ...) -> None: ...

class SetReplicationReply(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: int
    def __init__(self, files: _Optional[int] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("path", "recursive", "skip_trash")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    SKIP_TRASH_FIELD_NUMBER: _ClassVar[int]
    path: str
    recursive: bool
    skip_trash: bool
    def __init__(self, path: _Optional[str] = ..., recursive: _Optional[bool] = ..., skip_trash: _Optional[bool] = ...) -> None: ...

class UndeleteRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class RenameRequest(_message.Message):
    __slots__ = ("src", "dst")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    src: str
    dst: str
    def __init__(self, src: _Optional[str] = ..., dst: _Optional[str] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class SummaryRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class SummaryReport(_message.Message):
    __slots__ = ("length", "files", "directories", "consumed")
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_FIELD_NUMBER: _ClassVar[int]
    length: int
    files: int
    directories: int
    consumed: int
    def __init__(self, length: _Optional[int] = ..., files: _Optional[int] = ..., directories: _Optional[int] = ..., consumed: _Optional[int] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("path", "is_dir", "size", "mtime", "mode", "owner", "chunks", "group", "replication")
    PATH_FIELD_NUMBER: _ClassVar[int]
    IS_DIR_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    path: str
    is_dir: bool
    size: int
    mtime: float
    mode: int
    owner: str
    chunks: int
    group: str
    replication: int
    def __init__(self, path: _Optional[str] = ..., is_dir: _Optional[bool] = ..., size: _Optional[int] = ..., mtime: _Optional[float] = ..., mode: _Optional[int] = ..., owner: _Optional[str] = ..., chunks: _Optional[int] = ..., group: _Optional[str] = ..., replication: _Optional[int] = ...) -> None: ...

class ChmodRequest(_message.Message):
    __slots__ = ("path", "mode")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    path: str
    mode: int
    def __init__(self, path: _Optional[str] = ..., mode: _Optional[int] = ...) -> None: ...

class ChownRequest(_message.Message):
    __slots__ = ("path", "owner", "group")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    path: str
    owner: str
    group: str
    def __init__(self, path: _Optional[str] = ..., owner: _Optional[str] = ..., group: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ChunkLocation(_message.Message):
    __slots__ = ("index", "handle", "version", "size", "replicas", "primary", "token", "plain_reads", "slow")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PLAIN_READS_FIELD_NUMBER: _ClassVar[int]
    SLOW_FIELD_NUMBER: _ClassVar[int]
    index: int
    handle: int
    version: int
    size: int
    replicas: _containers.RepeatedScalarFieldContainer[str]
    primary: str
    token: bytes
    plain_reads: _containers.RepeatedScalarFieldContainer[str]
    slow: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[int] = ..., handle: _Optional[int] = ..., version: _Optional[int] = ..., size: _Optional[int] = ..., replicas: _Optional[_Iterable[str]] = ..., primary: _Optional[str] = ..., token: _Optional[bytes] = ..., plain_reads: _Optional[_Iterable[str]] = ..., slow: _Optional[_Iterable[str]] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("entry", "chunk_size", "chunks")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    entry: Entry
    chunk_size: int
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkLocation]
    def __init__(self, entry: _Optional[_Union[Entry, _Mapping]] = ..., chunk_size: _Optional[int] = ..., chunks: _Optional[_Iterable[_Union[ChunkLocation, _Mapping]]] = ...) -> None: ...

class StatManyRequest(_message.Message):
    __slots__ = ("paths",)
    PATHS_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, paths: _Optional[_Iterable[str]] = ...) -> None: ...

class StatResult(_message.Message):
    __slots__ = ("info", "error", "kinds")
    INFO_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    error: str
    kinds: str
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ..., error: _Optional[str] = ..., kinds: _Optional[str] = ...) -> None: ...

class StatManyReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StatResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StatResult, _Mapping]]] = ...) -> None: ...

class GetChunkRequest(_message.Message):
    __slots__ = ("path", "index", "for_write")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FOR_WRITE_FIELD_NUMBER: _ClassVar[int]
    path: str
    index: int
    for_write: bool
    def __init__(self, path: _Optional[str] = ..., index: _Optional[int] = ..., for_write: _Optional[bool] = ...) -> None: ...

class ExtendFileRequest(_message.Message):
    __slots__ = ("path", "length", "handle", "chunk_end", "primary")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_END_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    path: str
    length: int
    handle: int
    chunk_end: int
    primary: str
    def __init__(self, path: _Optional[str] = ..., length: _Optional[int] = ..., handle: _Optional[int] = ..., chunk_end: _Optional[int] = ..., primary: _Optional[str] = ...) -> None: ...

class ReplicaReport(_message.Message):
    __slots__ = ("handle", "version", "length")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    handle: int
    version: int
    length: int
    def __init__(self, handle: _Optional[int] = ..., version: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("address", "rack", "used_bytes", "free_bytes", "replicas", "corrupt", "extend", "http", "plain_reads", "failed_dirs", "lost", "slow_dirs", "incremental", "gone", "replica_count", "report_part", "report_parts")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RACK_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FIELD_NUMBER: _ClassVar[int]
    EXTEND_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    PLAIN_READS_FIELD_NUMBER: _ClassVar[int]
    FAILED_DIRS_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    SLOW_DIRS_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_FIELD_NUMBER: _ClassVar[int]
    GONE_FIELD_NUMBER: _ClassVar[int]
    REPLICA_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPORT_PART_FIELD_NUMBER: _ClassVar[int]
    REPORT_PARTS_FIELD_NUMBER: _ClassVar[int]
    address: str
    rack: str
    used_bytes: int
    free_bytes: int
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaReport]
    corrupt: _containers.RepeatedScalarFieldContainer[int]
    extend: _containers.RepeatedCompositeFieldContainer[ReplicaReport]
    http: str
    plain_reads: str
    failed_dirs: _containers.RepeatedScalarFieldContainer[str]
    lost: _containers.RepeatedScalarFieldContainer[int]
    slow_dirs: _containers.RepeatedScalarFieldContainer[str]
    incremental: bool
    gone: _containers.RepeatedScalarFieldContainer[int]
    replica_count: int
    report_part: int
    report_parts: int
    def __init__(self, address: _Optional[str] = ..., rack: _Optional[str] = ..., used_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., replicas: _Optional[_Iterable[_Union[ReplicaReport, _Mapping]]] = ..., corrupt: _Optional[_Iterable[int]] = ..., extend: _Optional[_Iterable[_Union[ReplicaReport, _Mapping]]] = ..., http: _Optional[str] = ..., plain_reads: _Optional[str] = ..., failed_dirs: _Optional[_Iterable[str]] = ..., lost: _Optional[_Iterable[int]] = ..., slow_dirs: _Optional[_Iterable[str]] = ..., incremental: _Optional[bool] = ..., gone: _Optional[_Iterable[int]] = ..., replica_count: _Optional[int] = ..., report_part: _Optional[int] = ..., report_parts: _Optional[int] = ...) -> None: ...

class Removal(_message.Message):
    __slots__ = ("handle", "max_version")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    MAX_VERSION_FIELD_NUMBER: _ClassVar[int]
    handle: int
    max_version: int
    def __init__(self, handle: _Optional[int] = ..., max_version: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("delete", "interval_seconds", "extended", "lease_seconds", "keys", "extended_tokens", "full_report", "recheck", "epoch", "keys_time")
    DELETE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    FULL_REPORT_FIELD_NUMBER: _ClassVar[int]
    RECHECK_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    KEYS_TIME_FIELD_NUMBER: _ClassVar[int]
    delete: _containers.RepeatedCompositeFieldContainer[Removal]
    interval_seconds: float
    extended: _containers.RepeatedScalarFieldContainer[int]
    lease_seconds: float
    keys: _containers.RepeatedCompositeFieldContainer[TokenKey]
    extended_tokens: _containers.RepeatedScalarFieldContainer[bytes]
    full_report: bool
    recheck: _containers.RepeatedScalarFieldContainer[int]
    epoch: int
    keys_time: float
    def __init__(self, delete: _Optional[_Iterable[_Union[Removal, _Mapping]]] = ..., interval_seconds: _Optional[float] = ..., extended: _Optional[_Iterable[int]] = ..., lease_seconds: _Optional[float] = ..., keys: _Optional[_Iterable[_Union[TokenKey, _Mapping]]] = ..., extended_tokens: _Optional[_Iterable[bytes]] = ..., full_report: _Optional[bool] = ..., recheck: _Optional[_Iterable[int]] = ..., epoch: _Optional[int] = ..., keys_time: _Optional[float] = ...) -> None: ...

class TokenKey(_message.Message):
    __slots__ = ("id", "secret", "until")
    ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    id: int
    secret: bytes
    until: float
    def __init__(self, id: _Optional[int] = ..., secret: _Optional[bytes] = ..., until: _Optional[float] = ...) -> None: ...

class ServerReport(_message.Message):
    __slots__ = ("address", "rack", "state", "chunks", "used_bytes", "free_bytes", "last_heartbeat_age_s", "http", "failed_dirs", "slow_dirs")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RACK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AGE_S_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    FAILED_DIRS_FIELD_NUMBER: _ClassVar[int]
    SLOW_DIRS_FIELD_NUMBER: _ClassVar[int]
    address: str
    rack: str
    state: str
    chunks: int
    used_bytes: int
    free_bytes: int
    last_heartbeat_age_s: float
    http: str
    failed_dirs: _containers.RepeatedScalarFieldContainer[str]
    slow_dirs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, address: _Optional[str] = ..., rack: _Optional[str] = ..., state: _Optional[str] = ..., chunks: _Optional[int] = ..., used_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., last_heartbeat_age_s: _Optional[float] = ..., http: _Optional[str] = ..., failed_dirs: _Optional[_Iterable[str]] = ..., slow_dirs: _Optional[_Iterable[str]] = ...) -> None: ...

class ClusterReport(_message.Message):
    __slots__ = ("chunkservers", "safe_mode", "role", "log_seq", "lag_seconds", "master_http", "pooled")
    CHUNKSERVERS_FIELD_NUMBER: _ClassVar[int]
    SAFE_MODE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    LOG_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MASTER_HTTP_FIELD_NUMBER: _ClassVar[int]
    POOLED_FIELD_NUMBER: _ClassVar[int]
    chunkservers: _containers.RepeatedCompositeFieldContainer[ServerReport]
    safe_mode: bool
    role: str
    log_seq: int
    lag_seconds: float
    master_http: str
    pooled: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, chunkservers: _Optional[_Iterable[_Union[ServerReport, _Mapping]]] = ..., safe_mode: _Optional[bool] = ..., role: _Optional[str] = ..., log_seq: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., master_http: _Optional[str] = ..., pooled: _Optional[_Iterable[int]] = ...) -> None: ...

class SafeModeRequest(_message.Message):
    __slots__ = ("action",)
    ACTION_FIELD_NUMBER: _ClassVar[int]
    action: str
    def __init__(self, action: _Optional[str] = ...) -> None: ...

class SafeModeState(_message.Message):
    __slots__ = ("active", "manual", "known_chunks", "reported_chunks")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    KNOWN_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    REPORTED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    active: bool
    manual: bool
    known_chunks: int
    reported_chunks: int
    def __init__(self, active: _Optional[bool] = ..., manual: _Optional[bool] = ..., known_chunks: _Optional[int] = ..., reported_chunks: _Optional[int] = ...) -> None: ...

class LogHeldRequest(_message.Message):
    __slots__ = ("follower", "seq", "epoch")
    FOLLOWER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    follower: str
    seq: int
    epoch: int
    def __init__(self, follower: _Optional[str] = ..., seq: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class PromiseRequest(_message.Message):
    __slots__ = ("epoch", "candidate")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    candidate: str
    def __init__(self, epoch: _Optional[int] = ..., candidate: _Optional[str] = ...) -> None: ...

class PromiseReply(_message.Message):
    __slots__ = ("last_seq", "last_digest", "last_epoch")
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_DIGEST_FIELD_NUMBER: _ClassVar[int]
    LAST_EPOCH_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    last_digest: str
    last_epoch: int
    def __init__(self, last_seq: _Optional[int] = ..., last_digest: _Optional[str] = ..., last_epoch: _Optional[int] = ...) -> None: ...

class StreamLogRequest(_message.Message):
    __slots__ = ("since", "follow", "limit", "follower", "batch", "epoch", "since_digest")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SINCE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    since: int
    follow: bool
    limit: int
    follower: str
    batch: int
    epoch: int
    since_digest: str
    def __init__(self, since: _Optional[int] = ..., follow: _Optional[bool] = ..., limit: _Optional[int] = ..., follower: _Optional[str] = ..., batch: _Optional[int] = ..., epoch: _Optional[int] = ..., since_digest: _Optional[str] = ...) -> None: ...

class LogRecord(_message.Message):
    __slots__ = ("seq", "ts", "op", "args_json", "changes_json", "head_seq", "keys", "entries", "epoch", "keys_time")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    KEYS_TIME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts: float
    op: str
    args_json: str
    changes_json: str
    head_seq: int
    keys: _containers.RepeatedCompositeFieldContainer[TokenKey]
    entries: _containers.RepeatedCompositeFieldContainer[LogEntry]
    epoch: int
    keys_time: float
    def __init__(self, seq: _Optional[int] = ..., ts: _Optional[float] = ..., op: _Optional[str] = ..., args_json: _Optional[str] = ..., changes_json: _Optional[str] = ..., head_seq: _Optional[int] = ..., keys: _Optional[_Iterable[_Union[TokenKey, _Mapping]]] = ..., entries: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., epoch: _Optional[int] = ..., keys_time: _Optional[float] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("seq", "ts", "op", "args_json", "changes_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts: float
    op: str
    args_json: str
    changes_json: str
    def __init__(self, seq: _Optional[int] = ..., ts: _Optional[float] = ..., op: _Optional[str] = ..., args_json: _Optional[str] = ..., changes_json: _Optional[str] = ...) -> None: ...

class CheckpointPiece(_message.Message):
    __slots__ = ("seq", "changes_json", "digest", "epoch")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    changes_json: str
    digest: str
    epoch: int
    def __init__(self, seq: _Optional[int] = ..., changes_json: _Optional[str] = ..., digest: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class FsckRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class DecommissionRequest(_message.Message):
    __slots__ = ("address", "cancel")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    address: str
    cancel: bool
    def __init__(self, address: _Optional[str] = ..., cancel: _Optional[bool] = ...) -> None: ...

class BalanceReply(_message.Message):
    __slots__ = ("moves",)
    MOVES_FIELD_NUMBER: _ClassVar[int]
    moves: int
    def __init__(self, moves: _Optional[int] = ...) -> None: ...

class FsckReport(_message.Message):
    __slots__ = ("files", "chunks", "healthy", "under_replicated", "over_replicated", "missing", "corrupt", "stale_replicas")
    FILES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    UNDER_REPLICATED_FIELD_NUMBER: _ClassVar[int]
    OVER_REPLICATED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FIELD_NUMBER: _ClassVar[int]
    STALE_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    files: int
    chunks: int
    healthy: int
    under_replicated: int
    over_replicated: int
    missing: int
    corrupt: int
    stale_replicas: int
    def __init__(self, files: _Optional[int] = ..., chunks: _Optional[int] = ..., healthy: _Optional[int] = ..., under_replicated: _Optional[int] = ..., over_replicated: _Optional[int] = ..., missing: _Optional[int] = ..., corrupt: _Optional[int] = ..., stale_replicas: _Optional[int] = ...) -> None: ...
