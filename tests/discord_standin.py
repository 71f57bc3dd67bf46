"""A small stand-in for the Discord API, for end-to-end tests of the bot with real discord.py.

It serves, on 127.0.0.1 only, the REST routes discord.py calls for this bot (login, application
info, gateway discovery, command sync, interaction callbacks, webhook follow-ups, channel
messages, typing) and a gateway websocket (HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats,
RESUME → replay + RESUMED, zlib-stream compression). Tests drive it by dispatching gateway
events (`interaction`, `message`, `click`...) and assert on `calls`, the REST requests the bot
made. Unknown routes answer 404 and are recorded, so a test can notice a call it did not expect.

Besides its main guild it can be in other guilds (`other_guild_ids`, one text channel each,
to test a bot fenced to some guilds), and tests can send direct messages (`dm=True`).

Buttons: `click` presses a component of a message the bot sent, by custom id; the bot's
answer to the press is the interaction's callback, and deleting the interaction's original
message (DELETE .../messages/@original) removes the message the button is on (`deleted`).
Threads: the bot can start a thread from a message (THREAD_CREATE follows, as from Discord);
tests write in it by passing the thread's id as `channel_id`.

Shards: with `shard_count` > 1 it takes one gateway connection per shard (from one bot process
or several), reads the shard of each IDENTIFY, and delivers a guild's events only to shard
`(guild_id >> 22) % shard_count`, Discord's rule (DMs to shard 0); each connection gets READY
and GUILD_CREATE for its own guilds. `dispatched` records which shard each event went to.

Faults on request: `rate_limit_once` answers one matching request with 429 + retry_after,
`token_lifetime` makes interaction follow-ups fail with 404 Unknown Webhook (token expiry), and
`invalidate_session` forces a full re-IDENTIFY on the next reconnect.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
HEARTBEAT_INTERVAL_MS = 10_000
MESSAGE_CALLBACKS = {4: "reply", 7: "update"}  # interaction callback types that carry a message
EPHEMERAL = 64
DM_CHANNEL_BASE = 930_000_000_000_000_000  # a user's DM channel id is this plus their user id

Json = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user_id: int, name: str, *, bot: bool = False) -> Json:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # parsed JSON (or multipart payload_json), None when empty
    status: int = 200
    at: float = field(default_factory=time.monotonic)  # when the request arrived

    def message_body(self) -> Json | None:
        """The message this call sent or edited, if it carries one."""
        if self.method == "POST" and self.path.endswith("/callback"):
            if self.body and self.body.get("type") in MESSAGE_CALLBACKS:
                return self.body.get("data") or {}
            return None
        is_webhook_send = self.path.startswith("/webhooks/") and self.method in ("POST", "PATCH")
        is_channel_send = re.fullmatch(r"/channels/\d+/messages(/\d+)?", self.path) and (
            self.method in ("POST", "PATCH")
        )
        return self.body if (is_webhook_send or is_channel_send) else None


@dataclass
class RateLimit:
    """One 429 to answer, on the next request whose method and path match."""

    method: str
    pattern: str  # a regular expression for the path (without the /api/v10 prefix)
    retry_after: float
    is_global: bool = False


@dataclass
class Session:
    session_id: str
    shard_id: int = 0
    seq: int = 0
    buffer: list[Json] = field(default_factory=list)  # dispatched events, for RESUME replay


class Connection:
    """One gateway websocket; messages are sent in order through one zlib stream if asked."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.shard_id: int | None = None  # set by IDENTIFY or RESUME
        self.zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.lock = asyncio.Lock()

    async def send(self, payload: Json) -> None:
        data = json.dumps(payload).encode()
        async with self.lock:
            if self.ws.closed:
                return
            if self.zlib is not None:
                chunk = self.zlib.compress(data) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(chunk)
            else:  # zstd-stream or none: plain text frames, which discord.py always accepts
                await self.ws.send_str(data.decode())


class DiscordStandIn:
    """One application, one bot user and one guild with a few text channels (and optionally
    other guilds with one text channel each)."""

    def __init__(
        self,
        *,
        token: str,
        guild_id: int = 900_000_000_000_000_001,
        channel_ids: tuple[int, ...] = (910_000_000_000_000_001, 910_000_000_000_000_002),
        admin_role_id: int = 920_000_000_000_000_001,
        other_guild_ids: tuple[int, ...] = (),
        shard_count: int = 1,
    ) -> None:
        self.token = token
        self.shard_count = shard_count  # what GET /gateway/bot recommends, and IDENTIFY must use
        self.app_id = 800_000_000_000_000_001
        self.bot_user = user_payload(self.app_id, "shirabe", bot=True)
        self.guild_id = guild_id
        self.channel_ids = channel_ids
        self.admin_role_id = admin_role_id
        # Every guild the bot is in and its text channels; another guild's channel is its id + 1.
        self.guild_channels: dict[int, tuple[int, ...]] = {
            guild_id: channel_ids, **{g: (g + 1,) for g in other_guild_ids}
        }
        self.left_guilds: list[int] = []  # guilds the bot left (DELETE /users/@me/guilds/{id})
        self.dm_channels: set[int] = set()  # DM channels tests have written in
        self.calls: list[Call] = []
        self.gateway_log: list[tuple[str, Json]] = []  # ("recv"|"send"|"connect", payload)
        self.commands: dict[int | None, list[Json]] = {}  # guild id (None: global) → commands
        self.messages: dict[int, Json] = {}  # every message the bot created, by id
        self.deleted: list[int] = []  # ids of the bot's messages it deleted since
        self.threads: dict[int, Json] = {}  # threads the bot started, by id
        self.interaction_messages: dict[str, int] = {}  # interaction token → original message
        self._interaction_channels: dict[str, int] = {}  # interaction token → channel id
        self.sessions: dict[int, Session] = {}  # shard id → its gateway session
        self.connections: dict[int, Connection] = {}  # shard id → its open websocket
        self.dispatched: list[tuple[int, Json]] = []  # (shard id, payload) of every event sent
        self.rate_limits: list[RateLimit] = []  # 429s still to answer, see rate_limit_once
        # Interaction tokens older than this many seconds get 404 Unknown Webhook on follow-ups
        # and edits, as real tokens do after 15 minutes (None: they never expire).
        self.token_lifetime: float | None = None
        self._token_born: dict[str, float] = {}
        self._ids = itertools.count(1_000_000_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for conn in list(self.connections.values()):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def next_id(self) -> int:
        return next(self._ids)

    # ---- REST -----------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.content_type == "multipart/form-data":
            form = await request.post()
            body = json.loads(str(form.get("payload_json", "null")))
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        call = Call(request.method, path, dict(request.query), body)
        self.calls.append(call)
        refused = self._rate_limited(call) or self._expired_token(call)
        if refused is not None:
            return refused
        authed = request.headers.get("Authorization") == f"Bot {self.token}"
        for method, pattern, handler, needs_auth in self._routes():
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                if needs_auth and not authed:
                    call.status = 401
                    return _json({"message": "401: Unauthorized", "code": 0}, 401)
                result = handler(call, *match.groups())
                if asyncio.iscoroutine(result):
                    result = await result
                if result is None:
                    call.status = 204
                    return web.Response(status=204)
                return _json(result)
        call.status = 404
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def rate_limit_once(
        self, method: str, pattern: str, retry_after: float, *, is_global: bool = False
    ) -> None:
        """Answer the next `method` request whose path matches `pattern` with 429 and
        `retry_after`, the way Discord does (a `Via` header: without one discord.py takes a 429
        for a Cloudflare ban and gives up)."""
        self.rate_limits.append(RateLimit(method, pattern, retry_after, is_global))

    def _rate_limited(self, call: Call) -> web.Response | None:
        for limit in self.rate_limits:
            if limit.method == call.method and re.fullmatch(limit.pattern, call.path):
                self.rate_limits.remove(limit)
                call.status = 429
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": limit.retry_after,
                    "global": limit.is_global,
                }
                headers = {
                    "Via": "1.1 google",
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": str(limit.retry_after),
                    "X-RateLimit-Bucket": "stand-in-bucket",
                    "X-RateLimit-Scope": "global" if limit.is_global else "user",
                }
                return _json(body, 429, headers)
        return None

    def _expired_token(self, call: Call) -> web.Response | None:
        match = re.fullmatch(rf"/webhooks/{self.app_id}/([^/]+)(/.*)?", call.path)
        if self.token_lifetime is None or match is None:
            return None
        born = self._token_born.get(match.group(1))
        if born is None or time.monotonic() - born <= self.token_lifetime:
            return None
        call.status = 404
        return _json({"message": "Unknown Webhook", "code": 10015}, 404)

    def invalidate_session(self) -> None:
        """Forget the gateway sessions, so the next RESUME is refused (op 9) and the bot must
        IDENTIFY again and get a new READY -- a full reconnect, not a resume."""
        self.sessions.clear()

    def _routes(self) -> list[tuple[str, str, Callable[..., Any], bool]]:
        app, snowflake, token = str(self.app_id), r"(\d+)", r"([^/]+)"
        return [
            ("GET", r"/users/@me", lambda c: self.bot_user, True),
            ("DELETE", rf"/users/@me/guilds/{snowflake}", lambda c, g: self._leave(int(g)), True),
            ("GET", r"/oauth2/applications/@me", lambda c: self._application(), True),
            ("GET", r"/gateway/bot", lambda c: self._gateway_bot(), True),
            ("PUT", rf"/applications/{app}/guilds/{snowflake}/commands",
             lambda c, g: self._sync(int(g), c.body), True),
            ("PUT", rf"/applications/{app}/commands", lambda c: self._sync(None, c.body), True),
            ("GET", rf"/applications/{app}/guilds/{snowflake}/commands",
             lambda c, g: self.commands.get(int(g), []), True),
            ("GET", rf"/applications/{app}/commands", lambda c: self.commands.get(None, []), True),
            ("POST", rf"/interactions/{snowflake}/{token}/callback", self._callback, False),
            ("POST", rf"/webhooks/{app}/{token}", self._followup, False),
            ("PATCH", rf"/webhooks/{app}/{token}/messages/([^/]+)", self._edit_webhook, False),
            ("GET", rf"/webhooks/{app}/{token}/messages/([^/]+)",
             lambda c, t, m: self.messages.get(self._webhook_message_id(t, m)), False),
            ("DELETE", rf"/webhooks/{app}/{token}/messages/([^/]+)", self._delete_webhook, False),
            ("POST", rf"/channels/{snowflake}/messages",
             lambda c, ch: self._create_message(int(ch), c.body), True),
            ("POST", rf"/channels/{snowflake}/typing", lambda c, ch: None, True),
            ("POST", rf"/channels/{snowflake}/messages/{snowflake}/threads",
             lambda c, ch, m: self._start_thread(int(ch), int(m), c.body or {}), True),
            ("GET", rf"/channels/{snowflake}/messages/{snowflake}",
             lambda c, ch, m: self.messages.get(int(m)), True),
        ]

    def _application(self) -> Json:
        return {
            "id": str(self.app_id),
            "name": "shirabe",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(1, "owner"),
            "verify_key": "0" * 64,
            "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED: intent enabled (unverified bot)
            "team": None,
        }

    def _gateway_bot(self) -> Json:
        return {
            "url": f"ws://127.0.0.1:{self.port}/gateway",
            "shards": self.shard_count,
            "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1,
            },
        }

    def _sync(self, guild_id: int | None, body: list[Json]) -> list[Json]:
        synced = []
        for command in body:
            synced.append(
                {
                    **command,
                    "id": str(self.next_id()),
                    "application_id": str(self.app_id),
                    "version": str(self.next_id()),
                    **({"guild_id": str(guild_id)} if guild_id else {}),
                }
            )
        self.commands[guild_id] = synced
        return synced

    def _leave(self, guild_id: int) -> None:
        self.left_guilds.append(guild_id)
        self.guild_channels.pop(guild_id, None)

    def guild_of(self, channel_id: int) -> int | None:
        """The guild a channel belongs to; None for a DM channel. Channels the stand-in does
        not know belong to the main guild, as they always have."""
        if channel_id in self.dm_channels:
            return None
        if channel_id in self.threads:
            channel_id = int(self.threads[channel_id]["parent_id"])
        for guild_id, channels in self.guild_channels.items():
            if channel_id in channels:
                return guild_id
        return self.guild_id

    def _callback(self, call: Call, interaction_id: str, token: str) -> Json:
        body = call.body or {}
        kind = body.get("type")
        result: Json = {"interaction": {"id": interaction_id, "type": 2}}
        if kind in MESSAGE_CALLBACKS:
            data = body.get("data") or {}
            if kind == 4:
                message = self._create_message(self._interaction_channel(token), data)
                self.interaction_messages[token] = int(message["id"])
            else:  # 7: update the message the component was on
                message_id = self.interaction_messages[token]
                message = self._update_message(message_id, data)
            result["interaction"]["response_message_id"] = message["id"]
            result["interaction"]["response_message_ephemeral"] = bool(
                data.get("flags", 0) & EPHEMERAL
            )
            result["resource"] = {"type": kind, "message": message}
        elif kind == 5:  # deferred: Discord shows "thinking…" as the original message
            flags = (body.get("data") or {}).get("flags", 0)
            message = self._create_message(self._interaction_channel(token), {"flags": flags})
            self.interaction_messages[token] = int(message["id"])
            result["interaction"]["response_message_loading"] = True
            result["resource"] = {"type": kind}
        return result

    def _followup(self, call: Call, token: str) -> Json:
        return self._create_message(self._interaction_channel(token), call.body or {})

    def _edit_webhook(self, call: Call, token: str, message: str) -> Json | None:
        message_id = self._webhook_message_id(token, message)
        if message_id not in self.messages:
            return None
        return self._update_message(message_id, call.body or {})

    def _delete_webhook(self, call: Call, token: str, message: str) -> None:
        message_id = self._webhook_message_id(token, message)
        if self.messages.pop(message_id, None) is not None:
            self.deleted.append(message_id)

    async def _start_thread(self, channel_id: int, message_id: int, body: Json) -> Json:
        """A public thread from a message in `channel_id`, announced with THREAD_CREATE; as
        on Discord, the thread's id is the id of the message it starts from."""
        guild_id = self.guild_of(channel_id)
        thread = {
            "id": str(message_id),
            "guild_id": str(guild_id),
            "parent_id": str(channel_id),
            "owner_id": str(self.app_id),
            "name": body.get("name", ""),
            "type": 11,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": now_iso(),
                "locked": False,
            },
        }
        self.threads[int(thread["id"])] = thread
        await self._dispatch(
            "THREAD_CREATE", {**thread, "newly_created": True}, shard=self.shard_of(guild_id)
        )
        return thread

    def _webhook_message_id(self, token: str, message: str) -> int:
        return self.interaction_messages.get(token, 0) if message == "@original" else int(message)

    def _interaction_channel(self, token: str) -> int:
        return self._interaction_channels.get(token, self.channel_ids[0])

    def _create_message(self, channel_id: int, body: Json) -> Json:
        message_id = self.next_id()
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.bot_user,
            "content": body.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": body.get("flags") or 0,
        }
        if (guild_id := self.guild_of(channel_id)) is not None:
            message["guild_id"] = str(guild_id)
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        self.messages[message_id] = message
        return message

    def _update_message(self, message_id: int, body: Json) -> Json:
        message = self.messages[message_id]
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = body[key] if body[key] is not None else (
                    "" if key == "content" else []
                )
        message["edited_timestamp"] = now_iso()
        return message

    # ---- gateway --------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, request.query.get("compress"))
        self.gateway_log.append(("connect", {"path": request.path, **request.query}))
        await conn.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            self.gateway_log.append(("recv", payload))
            await self._on_gateway_message(conn, payload)
        if conn.shard_id is not None and self.connections.get(conn.shard_id) is conn:
            del self.connections[conn.shard_id]
        return ws

    async def _on_gateway_message(self, conn: Connection, payload: Json) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:  # heartbeat
            await conn.send({"op": 11})
        elif op == 2:  # identify
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            shard_id, count = data.get("shard") or (0, 1)
            if count != self.shard_count or not 0 <= shard_id < count:
                await conn.ws.close(code=4010, message=b"Invalid shard.")
                return
            conn.shard_id = shard_id
            self.sessions[shard_id] = Session(secrets.token_hex(8), shard_id)
            self.connections[shard_id] = conn
            await self._dispatch("READY", self._ready(shard_id), shard=shard_id)
            for guild_id in self.guilds_of(shard_id):
                await self._dispatch("GUILD_CREATE", self.guild(guild_id), shard=shard_id)
        elif op == 6:  # resume
            session = next(
                (s for s in self.sessions.values() if s.session_id == data.get("session_id")),
                None,
            )
            if session is None:
                await conn.send({"op": 9, "d": False})
                return
            conn.shard_id = session.shard_id
            self.connections[session.shard_id] = conn
            for event in session.buffer:
                if event["s"] > (data.get("seq") or 0):
                    await conn.send(event)
            await self._dispatch("RESUMED", {}, shard=session.shard_id)

    def shard_of(self, guild_id: int | None) -> int:
        """The shard that gets a guild's events (Discord's rule); DMs go to shard 0."""
        return 0 if guild_id is None else (guild_id >> 22) % self.shard_count

    def guilds_of(self, shard_id: int) -> list[int]:
        return [g for g in list(self.guild_channels) if self.shard_of(g) == shard_id]

    async def _dispatch(self, event: str, data: Json, *, shard: int = 0) -> None:
        """Send an event to one shard's session (buffered for RESUME while it is away)."""
        session = self.sessions.get(shard)
        assert session is not None, f"no gateway session for shard {shard} yet"
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        self.gateway_log.append(("send", payload))
        self.dispatched.append((shard, payload))
        if (conn := self.connections.get(shard)) is not None:
            await conn.send(payload)

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway sockets the way Discord does on a hiccup (resumable close code)."""
        conns, self.connections = list(self.connections.values()), {}
        for conn in conns:
            await conn.ws.close(code=code, message=b"stand-in closed the connection")

    def _ready(self, shard_id: int = 0) -> Json:
        session = self.sessions.get(shard_id)
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds_of(shard_id)],
            "session_id": session.session_id if session else "",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/resume-gateway",
            "shard": [shard_id, self.shard_count],
            "application": {"id": str(self.app_id), "flags": 1 << 19},
            "private_channels": [],
            "relationships": [],
        }

    def guild(self, guild_id: int | None = None) -> Json:
        """The GUILD_CREATE payload of the main guild, or of another guild the bot is in."""
        guild_id = guild_id or self.guild_id
        channels = [
            {
                "id": str(cid),
                "type": 0,
                "guild_id": str(guild_id),
                "name": f"channel-{i}",
                "position": i,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
            for i, cid in enumerate(self.guild_channels[guild_id])
        ]
        role = {
            "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0,
            "icon": None, "unicode_emoji": None,
        }
        return {
            "id": str(guild_id),
            "name": "Stand-in guild" if guild_id == self.guild_id else f"Other guild {guild_id}",
            "icon": None,
            "owner_id": "1",
            "unavailable": False,
            "member_count": 3,
            "large": False,
            "preferred_locale": "ja",
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {**role, "id": str(guild_id), "name": "@everyone", "permissions": "1024",
                 "position": 0},
                {**role, "id": str(self.admin_role_id), "name": "index-admins",
                 "permissions": "0", "position": 1},
            ],
            "channels": channels,
            "threads": [t for t in self.threads.values() if t["guild_id"] == str(guild_id)],
            "members": [self.member(int(self.bot_user["id"]), "shirabe", bot=True)],
            "voice_states": [],
            "presences": [],
            "joined_at": now_iso(),
        }

    def member(
        self, user_id: int, name: str, *, bot: bool = False, roles: tuple[int, ...] = (),
        permissions: int | None = None,
    ) -> Json:
        member: Json = {
            "user": user_payload(user_id, name, bot=bot),
            "roles": [str(r) for r in roles],
            "joined_at": now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    # ---- what tests dispatch --------------------------------------------------------------
    async def interaction(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int,
        kind: int = 2,
        locale: str = "en-US",
        permissions: int = 1024 | 2048,  # view channel, send messages
        roles: tuple[int, ...] = (),
        channel_id: int | None = None,
        focused: str | None = None,
        guild_id: int | None = None,
        dm: bool = False,
    ) -> Json:
        """Dispatch a slash command (kind 2) or autocomplete (kind 4) from a guild member (of
        the main guild unless `guild_id` says which), or from a DM with the bot (`dm`)."""
        guild = None if dm else guild_id or self.guild_id
        channel_id = channel_id or self._default_channel(guild, user_id)
        command = next(
            (c for c in self.commands.get(guild, []) + self.commands.get(None, [])
             if c["name"] == name),
            {"id": str(self.next_id()), "name": name},
        )
        data = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": [
                {"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v,
                 **({"focused": True} if k == focused else {})}
                for k, v in (options or {}).items()
            ],
        }
        if command.get("guild_id") or not dm:  # a guild command says which guild it is from
            data["guild_id"] = command.get("guild_id") or str(guild)
        return await self._interaction(kind, data, user_id=user_id, locale=locale,
                                       permissions=permissions, roles=roles,
                                       channel_id=channel_id, guild_id=guild)

    async def click(
        self, message_id: int, custom_id: str, *, user_id: int, guild_id: int | None = None
    ) -> Json:
        """Dispatch a button press on a message the bot sent (from `guild_id` if given, else
        from the message's own guild)."""
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        return await self._interaction(
            3, {"custom_id": custom_id, "component_type": 2}, user_id=user_id,
            channel_id=channel_id, message=message,
            guild_id=guild_id or self.guild_of(channel_id),
        )

    async def _interaction(
        self, kind: int, data: Json, *, user_id: int, channel_id: int, locale: str = "en-US",
        permissions: int = 1024 | 2048, roles: tuple[int, ...] = (), message: Json | None = None,
        guild_id: int | None = None,
    ) -> Json:
        token = "itoken-" + secrets.token_hex(12)
        self._interaction_channels[token] = channel_id
        self._token_born[token] = time.monotonic()
        payload = {
            "id": str(self.next_id()),
            "application_id": str(self.app_id),
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": str(channel_id),
            "locale": locale,
            "app_permissions": str((1 << 53) - 1),
            "attachment_size_limit": 8 * 1024 * 1024,
            "entitlements": [],
            "data": data,
        }
        if guild_id is None:  # a DM with the bot: a user instead of a member, no guild
            payload.update(
                channel={"id": str(channel_id), "type": 1,
                         "recipients": [user_payload(user_id, f"user{user_id}")]},
                user=user_payload(user_id, f"user{user_id}"),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        else:
            payload.update(
                guild_id=str(guild_id),
                channel={"id": str(channel_id), "type": 0, "guild_id": str(guild_id),
                         "name": "channel", "position": 0, "permission_overwrites": []},
                member=self.member(user_id, f"user{user_id}", roles=roles,
                                   permissions=permissions),
                guild_locale="ja",
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
            )
        if message is not None:  # a component: its callbacks edit this message
            payload["message"] = message
            self.interaction_messages[token] = int(message["id"])
        await self._dispatch("INTERACTION_CREATE", payload, shard=self.shard_of(guild_id))
        return payload

    async def join_guild(self, guild_id: int) -> None:
        """Dispatch GUILD_CREATE as when the bot is invited to another guild (a join carries no
        `unavailable` key; discord.py takes one with `unavailable: false` for an outage's end)."""
        self.guild_channels[guild_id] = (guild_id + 1,)
        payload = self.guild(guild_id)
        del payload["unavailable"]
        await self._dispatch("GUILD_CREATE", payload, shard=self.shard_of(guild_id))

    def _default_channel(self, guild_id: int | None, user_id: int) -> int:
        """A guild's first text channel, or the user's DM channel with the bot."""
        if guild_id is None:
            channel_id = DM_CHANNEL_BASE + user_id
            self.dm_channels.add(channel_id)
            return channel_id
        return self.guild_channels.get(guild_id, (guild_id + 1,))[0]

    async def message(
        self,
        content: str,
        *,
        user_id: int,
        channel_id: int | None = None,
        mention_bot: bool = False,
        reply_to: Json | None = None,
        bot: bool = False,
        guild_id: int | None = None,
        dm: bool = False,
    ) -> Json:
        """Dispatch MESSAGE_CREATE as if a member (or another bot) wrote `content`, in the main
        guild, in `guild_id` (its channel unless `channel_id` is given), or in a DM (`dm`)."""
        guild = None if dm else guild_id or self.guild_id
        channel_id = channel_id or self._default_channel(guild, user_id)
        author = user_payload(user_id, f"user{user_id}", bot=bot)
        payload: Json = {
            "id": str(self.next_id()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.bot_user] if mention_bot else [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild is not None:
            member = self.member(user_id, f"user{user_id}", bot=bot)
            member.pop("user")
            payload.update(guild_id=str(guild), member=member)
        if reply_to is not None:
            payload["type"] = 19
            payload["message_reference"] = {
                "message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
                **({"guild_id": str(guild)} if guild is not None else {}),
            }
            payload["referenced_message"] = reply_to
        await self._dispatch("MESSAGE_CREATE", payload, shard=self.shard_of(guild))
        return payload

    # ---- what tests read ------------------------------------------------------------------
    def calls_for(self, token: str) -> list[Call]:
        """The callback and webhook requests that answered one interaction."""
        return [c for c in list(self.calls) if f"/{token}/" in c.path + "/"]

    def replies_in(self, channel_id: int) -> list[Call]:
        return [
            c for c in list(self.calls)
            if c.method == "POST" and c.path == f"/channels/{channel_id}/messages"
        ]

    def sent_message_bodies(self) -> list[Json]:
        """Every message body the bot sent or edited, through any route."""
        return [b for c in list(self.calls) if (b := c.message_body()) is not None]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when the content type is exactly "application/json".
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


async def wait_until(
    check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.02
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
