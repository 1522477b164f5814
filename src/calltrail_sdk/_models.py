"""Typed, immutable views of the JSON the API answers with.

Attribute names are the snake_case forms of the wire names (``sessionId`` is ``session_id``,
``totalDurationInMinutes`` is ``total_duration_in_minutes``). Parsing is tolerant where the
API may grow and strict where it must not drift:

* keys the SDK does not know are kept, in ``extra``, never an error;
* a known key with a value of the wrong type, or a missing required key, raises
  :class:`~calltrail_sdk.InvalidResponseError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calltrail_sdk._exceptions import InvalidResponseError

_MISSING: Any = object()


class _Reader:
    """Reads typed values out of one JSON object, remembering which keys it consumed."""

    def __init__(self, obj: object, path: str) -> None:
        if not isinstance(obj, Mapping):
            raise InvalidResponseError(f"{path or 'response'} is not a JSON object")
        self.obj: Mapping[str, Any] = obj
        self.path = path
        self.known: set[str] = set()

    def _raw(self, *keys: str) -> Any:
        self.known.update(keys)
        for key in keys:
            value = self.obj.get(key)
            if value is not None:
                return value
        return _MISSING

    def _fail(self, key: str, expected: str) -> InvalidResponseError:
        return InvalidResponseError(f"{self.path}{key} is not {expected}")

    def text(self, *keys: str) -> str | None:
        value = self._raw(*keys)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            raise self._fail(keys[0], "a string")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise InvalidResponseError(f"{self.path}{key} is missing")
        return value

    def integer(self, *keys: str) -> int | None:
        value = self._raw(*keys)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise self._fail(keys[0], "an integer")
        return int(value)

    def number(self, *keys: str, default: float = 0.0) -> float:
        value = self._raw(*keys)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(keys[0], "a number")
        return float(value)

    def boolean(self, *keys: str) -> bool | None:
        value = self._raw(*keys)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            raise self._fail(keys[0], "true or false")
        return value

    def items(self, key: str) -> list[Any]:
        value = self._raw(key)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return value

    def any(self, key: str) -> Any:
        value = self._raw(key)
        return None if value is _MISSING else value

    def extra(self) -> dict[str, Any]:
        return {key: value for key, value in self.obj.items() if key not in self.known}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallUser:
    """A user as a call log shows them. ``name`` is the uid when the user has no profile;
    ``name`` and ``avatar`` are None on REST records, which carry ids only."""

    uid: str
    name: str | None = None
    avatar: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, path: str = "") -> CallUser:
        """Parse ``{"uid", "name", "avatar"}``."""
        read = _Reader(obj, path)
        return cls(
            uid=read.required_text("uid"), name=read.text("name"), avatar=read.text("avatar"), extra=read.extra()
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallGroup:
    """A group as a call log shows it (``name`` is the guid when it has no profile)."""

    guid: str
    name: str | None = None
    icon: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, path: str = "") -> CallGroup:
        """Parse ``{"guid", "name", "icon"}``."""
        read = _Reader(obj, path)
        return cls(guid=read.required_text("guid"), name=read.text("name"), icon=read.text("icon"), extra=read.extra())


@dataclass(frozen=True, slots=True, kw_only=True)
class Participant:
    """One device that joined the call, or one invitee who never did (``has_joined`` False)."""

    uid: str
    name: str | None = None
    avatar: str | None = None
    total_audio_minutes: float = 0.0
    total_video_minutes: float = 0.0
    total_duration_in_minutes: float = 0.0
    device_id: str | None = None
    has_joined: bool = False
    joined_at: int | None = None
    left_at: int | None = None
    mid: str | None = None
    state: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, path: str = "") -> Participant:
        """Parse a participant (REST names and the web SDK's aliases both accepted)."""
        read = _Reader(obj, path)
        return cls(
            uid=read.required_text("uid"),
            name=read.text("name"),
            avatar=read.text("avatar"),
            total_audio_minutes=read.number("totalAudioMinutes"),
            total_video_minutes=read.number("totalVideoMinutes"),
            # REST calls a participant's minutes ``totalDuration``; the web SDK reads the alias.
            total_duration_in_minutes=read.number("totalDurationInMinutes", "totalDuration"),
            device_id=read.text("deviceId", "deviceID"),
            has_joined=bool(read.boolean("isJoined", "hasJoined")),
            joined_at=read.integer("joinedAt"),
            left_at=read.integer("leftAt"),
            mid=read.text("mid"),
            state=read.text("state"),
            extra=read.extra(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """A recording of the call. ``duration`` is in minutes, as the REST API reports it."""

    rid: str
    recording_url: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    duration: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, path: str = "") -> Recording:
        """Parse ``{"rid", "recording_url", "startTime", "endTime", "duration"}``."""
        read = _Reader(obj, path)
        return cls(
            rid=read.required_text("rid"),
            recording_url=read.text("recording_url", "recordingURL"),
            start_time=read.integer("startTime"),
            end_time=read.integer("endTime"),
            duration=read.number("duration"),
            extra=read.extra(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLog:
    """One call, with every field of the client SDK's ``CallLog`` (spec: Call Logs).

    From the user view (auth token) ``initiator`` and ``receiver`` carry names and avatars,
    and ``direction`` / ``missed`` say how the call looks to you. From the REST API (API key)
    they carry ids only and ``direction`` / ``missed`` are None.
    """

    session_id: str
    initiator: CallUser
    receiver: CallUser | CallGroup
    receiver_type: str
    type: str
    status: str
    call_category: str
    mode: str
    initiated_at: int
    started_at: int | None = None
    ended_at: int | None = None
    total_duration: str = "00:00:00"
    total_duration_in_minutes: float = 0.0
    total_audio_minutes: float = 0.0
    total_video_minutes: float = 0.0
    total_participants: int = 0
    has_recording: bool = False
    recordings: tuple[Recording, ...] = ()
    participants: tuple[Participant, ...] = ()
    mid: str | None = None
    direction: str | None = None
    missed: bool | None = None
    metadata: Any = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def participant_info_list(self) -> tuple[Participant, ...]:
        """The spec's name for :attr:`participants`."""
        return self.participants

    @property
    def is_group_call(self) -> bool:
        """True when the receiver is a group."""
        return self.receiver_type == "group"

    @classmethod
    def from_json(cls, obj: object, path: str = "") -> CallLog:
        """Parse one call record (user-view or REST shape)."""
        read = _Reader(obj, path)
        session_id = read.required_text("sessionId")
        initiator_id = read.required_text("initiator")
        receiver_id = read.required_text("receiver")
        receiver_type = read.text("receiverType") or "user"
        entities = _entities(read.any("data"), f"{path}data.")
        initiator = (
            CallUser.from_json(entities["initiator"], f"{path}data.entities.initiator.entity.")
            if "initiator" in entities
            else CallUser(uid=initiator_id)
        )
        receiver: CallUser | CallGroup
        if receiver_type == "group":
            receiver = (
                CallGroup.from_json(entities["receiver"], f"{path}data.entities.receiver.entity.")
                if "receiver" in entities
                else CallGroup(guid=receiver_id)
            )
        else:
            receiver = (
                CallUser.from_json(entities["receiver"], f"{path}data.entities.receiver.entity.")
                if "receiver" in entities
                else CallUser(uid=receiver_id)
            )
        mode = read.text("mode") or "call"
        initiated_at = read.integer("initiatedAt")
        if initiated_at is None:
            raise InvalidResponseError(f"{path}initiatedAt is missing")
        tags = read.items("tags")
        log = cls(
            session_id=session_id,
            initiator=initiator,
            receiver=receiver,
            receiver_type=receiver_type,
            type=read.text("type") or "audio",
            status=read.required_text("status"),
            call_category=read.text("callCategory") or mode,
            mode=mode,
            initiated_at=initiated_at,
            started_at=read.integer("startedAt"),
            ended_at=read.integer("endedAt"),
            total_duration=read.text("totalDuration") or "00:00:00",
            total_duration_in_minutes=read.number("totalDurationInMinutes"),
            total_audio_minutes=read.number("totalAudioMinutes"),
            total_video_minutes=read.number("totalVideoMinutes"),
            total_participants=read.integer("totalParticipants") or 0,
            has_recording=bool(read.boolean("hasRecording")),
            recordings=tuple(
                Recording.from_json(item, f"{path}recordings[{i}].") for i, item in enumerate(read.items("recordings"))
            ),
            participants=tuple(
                Participant.from_json(item, f"{path}participants[{i}].")
                for i, item in enumerate(read.items("participants"))
            ),
            mid=read.text("mid"),
            direction=read.text("direction"),
            missed=read.boolean("missed"),
            metadata=read.any("metaData"),
            tags=tuple(str(tag) for tag in tags),
            extra=read.extra(),
        )
        return log


def _entities(data: Any, path: str) -> dict[str, Any]:
    """``{"initiator": entity, "receiver": entity}`` from a record's ``data.entities``."""
    if not isinstance(data, Mapping):
        return {}
    entities = data.get("entities")
    if not isinstance(entities, Mapping):
        return {}
    found = {}
    for role in ("initiator", "receiver"):
        wrapper = entities.get(role)
        if isinstance(wrapper, Mapping) and wrapper.get("entity") is not None:
            found[role] = wrapper["entity"]
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Pagination:
    """``meta.pagination`` of a list response."""

    total: int
    count: int
    per_page: int
    current_page: int
    total_pages: int

    @classmethod
    def from_json(cls, body: object) -> Pagination:
        """Read ``meta.pagination`` from a whole list response."""
        meta = _Reader(body, "").any("meta")
        read = _Reader(_Reader(meta, "meta.").any("pagination"), "meta.pagination.")
        values = {name: read.integer(name) for name in ("total", "count", "per_page", "current_page", "total_pages")}
        missing = [name for name, value in values.items() if value is None and name != "per_page"]
        if missing:
            raise InvalidResponseError(f"meta.pagination.{missing[0]} is missing")
        return cls(
            total=values["total"] or 0,
            count=values["count"] or 0,
            per_page=values["per_page"] or 0,
            current_page=values["current_page"] or 0,
            total_pages=values["total_pages"] or 0,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallPage:
    """One page of a list of calls, with its position in the whole list."""

    items: list[CallLog]
    pagination: Pagination

    @property
    def has_next(self) -> bool:
        """True when a later page exists."""
        return self.pagination.current_page < self.pagination.total_pages

    @property
    def has_previous(self) -> bool:
        """True when an earlier page exists."""
        return self.pagination.current_page > 1


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProfile:
    """A user's stored display profile."""

    uid: str
    name: str
    avatar: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object) -> UserProfile:
        """Parse ``{"uid", "name", "avatar", "createdAt", "updatedAt"}``."""
        read = _Reader(obj, "data.")
        return cls(
            uid=read.required_text("uid"),
            name=read.required_text("name"),
            avatar=read.text("avatar"),
            created_at=read.integer("createdAt"),
            updated_at=read.integer("updatedAt"),
            extra=read.extra(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupProfile:
    """A group's stored display profile."""

    guid: str
    name: str
    icon: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object) -> GroupProfile:
        """Parse ``{"guid", "name", "icon", "createdAt", "updatedAt"}``."""
        read = _Reader(obj, "data.")
        return cls(
            guid=read.required_text("guid"),
            name=read.required_text("name"),
            icon=read.text("icon"),
            created_at=read.integer("createdAt"),
            updated_at=read.integer("updatedAt"),
            extra=read.extra(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthToken:
    """A user's auth token. ``auth_token`` (the secret) is only known in the answer that
    created it; listings identify tokens by ``token_id``."""

    uid: str
    token_id: str
    created_at: int
    auth_token: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, path: str = "data.") -> AuthToken:
        """Parse ``{"uid", "authToken", "tokenId", "createdAt"}``."""
        read = _Reader(obj, path)
        created = read.integer("createdAt")
        if created is None:
            raise InvalidResponseError(f"{path}createdAt is missing")
        return cls(
            uid=read.required_text("uid"),
            token_id=read.required_text("tokenId"),
            created_at=created,
            auth_token=read.text("authToken"),
            extra=read.extra(),
        )

    def __repr__(self) -> str:
        # Never print the secret (logs and tracebacks show reprs).
        shown = "'***'" if self.auth_token else "None"
        return (
            f"AuthToken(uid={self.uid!r}, token_id={self.token_id!r}, created_at={self.created_at}, auth_token={shown})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    """What a batch of events did: newly stored events and ignored redeliveries."""

    accepted: int
    duplicates: int
