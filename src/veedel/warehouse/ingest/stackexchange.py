"""Ingest a Stack Exchange data dump folder into the canonical tables.

How the dump maps to the data model (``docs/ingest.md`` has the full table):

- ``Tags.xml``: every tag is a channel ``se:<site>:<tag>``.
- ``Users.xml``: users, with the free-text ``Location`` in ``location_text``.
- ``Posts.xml``: questions are posts in the channel of their first tag;
  answers are replies (``parent_id`` is the question) in the same channel. Tag
  wiki posts are not community posts and are counted as not represented.
- ``Comments.xml``: replies to the post they comment on.
- ``Votes.xml``: up votes (type 2) are +1, down votes (type 3) -1, with the
  voter where the dump has one; every other vote type that names a user
  (favourites, bounties) becomes an event.
- ``Badges.xml``, ``PostLinks.xml``, ``PostHistory.xml``: events.

Dumps leave out deleted posts but keep the answers, comments and votes that
pointed at them; those rows, and replies and votes on tag wikis, are counted
as not represented rather than loaded as references to nothing.

Every id is prefixed with the site (``se:<site>:post:17``) so that two dumps
never collide. Files are read in that order, streaming; only the channel and
owner of each post are kept in memory so replies and links can find them.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from veedel.errors import ConfigError, DataError
from veedel.warehouse.ingest.readers import (
    iter_xml_rows,
    parse_int,
    parse_iso_timestamp,
    require,
)
from veedel.warehouse.ingest.rejects import RowProblem
from veedel.warehouse.ingest.run import IngestRun, Progress
from veedel.warehouse.ingest.summary import IngestSummary

__all__ = ["DUMP_FILES", "dump_files", "ingest_stackexchange"]

log = logging.getLogger(__name__)

DUMP_FILES = (
    "Tags.xml",
    "Users.xml",
    "Posts.xml",
    "Comments.xml",
    "Votes.xml",
    "Badges.xml",
    "PostLinks.xml",
    "PostHistory.xml",
)
"""The dump files read, in the order they are read; only Posts.xml is required."""

_VOTE_VALUES = {"2": 1, "3": -1}

# Vote types other than up and down; only those that name a user can become
# events, since an event needs a user.
_VOTE_EVENTS = {
    "1": "answer_accepted",
    "4": "flag_offensive",
    "5": "favorite",
    "6": "close_vote",
    "7": "reopen_vote",
    "8": "bounty_start",
    "9": "bounty_close",
    "10": "deletion_vote",
    "11": "undeletion_vote",
    "12": "flag_spam",
    "15": "moderator_review",
    "16": "edit_approved",
}

_HISTORY_EVENTS = {
    "4": "edit_title",
    "5": "edit_body",
    "6": "edit_tags",
    "7": "rollback_title",
    "8": "rollback_body",
    "9": "rollback_tags",
    "10": "post_closed",
    "11": "post_reopened",
    "12": "post_deleted",
    "13": "post_undeleted",
    "14": "post_locked",
    "15": "post_unlocked",
    "16": "community_owned",
    "24": "suggested_edit_applied",
    "25": "post_tweeted",
    "33": "notice_added",
    "34": "notice_removed",
    "35": "post_migrated_away",
    "36": "post_migrated_here",
    "38": "post_disassociated",
    "50": "post_bumped",
    "52": "hot_network_question",
    "53": "hot_network_removed",
}

_INITIAL_REVISIONS = {"1", "2", "3"}

# Dumps leave out deleted posts but keep their answers, comments and votes;
# those, and replies and votes on tag wikis, would point at no post.
_MISSING_PARENT = "replies to posts missing from the dump (deleted, tag wikis)"
_MISSING_VOTED = "votes on posts missing from the dump (deleted, tag wikis)"
_LINK_TYPES = {"1": "linked", "3": "duplicate"}
_TAGS = re.compile(r"<([^<>]+)>|\|([^|]+)")
_HTML_TAG = re.compile(r"<[^>]+>")
_BLANK_LINES = re.compile(r"\n{3,}")
_SITE = re.compile(r"[\w.-]+")


def dump_files(directory: Path) -> list[Path]:
    """The dump files present in ``directory``, in reading order."""
    return [directory / name for name in DUMP_FILES if (directory / name).is_file()]


def ingest_stackexchange(
    con: Any,
    directory: str | Path,
    *,
    site: str | None = None,
    skip_bad_rows: bool = False,
    rejects: str | Path | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Load a Stack Exchange dump folder into the warehouse.

    Parameters
    ----------
    con
        The warehouse, from :func:`veedel.warehouse.connect`.
    directory
        The dump folder holding ``Posts.xml`` and, optionally, the other files
        of :data:`DUMP_FILES`.
    site
        Short site name used in ids and ``source``; defaults to the folder name.
    skip_bad_rows
        Set bad rows aside (counted, written to ``rejects``) instead of failing.
    rejects
        File for the rejected rows with their reason (``.csv`` or ``.jsonl``).
    progress
        Called with the number of bytes read as reading advances.

    Returns
    -------
    IngestSummary
        Rows read, written, already present and rejected per table.

    Raises
    ------
    DataError
        On malformed input; it names the file, the line or row, the field and
        the value, and the warehouse is left unchanged.
    """
    folder = Path(directory)
    if not (folder / "Posts.xml").is_file():
        raise DataError(
            "Posts.xml",
            "must exist in a Stack Exchange dump folder",
            str(folder),
            fix="Point the command at the folder that holds the dump's XML files.",
        )

    name = folder.resolve().name if site is None else site
    if not _SITE.fullmatch(name):
        raise ConfigError(
            "site",
            "must be letters, digits, '.', '_' or '-' (it becomes part of every id)",
            name,
            fix="Pass --site with a short name such as conlang.",
        )
    dump = _Dump(name)
    rejects_path = Path(rejects) if rejects is not None else None
    with IngestRun(
        con,
        f"stackexchange:{name}",
        skip_bad_rows=skip_bad_rows,
        rejects=rejects_path,
    ) as run:
        for path in dump_files(folder):
            run.summary.files.append(path)
            dump.read(path, run, progress)
        return run.finish()


class _Dump:
    """The conversion of one site's files; remembers each post's channel."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.source = f"stackexchange:{site}"
        self.channels: set[str] = set()
        self.post_channel: dict[str, str | None] = {}
        self.post_owner: dict[str, str | None] = {}

    def id(self, kind: str, value: str) -> str:
        return f"se:{self.site}:{kind}:{value}"

    def user(self, value: str | None) -> str | None:
        return self.id("user", value) if value else None

    def read(self, path: Path, run: IngestRun, progress: Progress | None) -> None:
        """Convert every row of one dump file and queue it on ``run``."""
        convert = self._converters()[path.name]
        log.debug("Reading %s", path)
        for number, attributes in iter_xml_rows(path, progress, path.stem.lower()):
            try:
                for table, row in convert(attributes, run):
                    run.add(table, row)
            except RowProblem as problem:
                ident = attributes.get("Id")
                location = f"row {number}" + (f" (Id={ident})" if ident else "")
                run.problem(_TABLE_OF[path.name], problem, path, location)

    def _converters(self) -> dict[str, Callable[[dict[str, str], IngestRun], Rows]]:
        return {
            "Tags.xml": self.tag,
            "Users.xml": self.user_row,
            "Posts.xml": self.post,
            "Comments.xml": self.comment,
            "Votes.xml": self.vote,
            "Badges.xml": self.badge,
            "PostLinks.xml": self.post_link,
            "PostHistory.xml": self.post_history,
        }

    # -- one converter per file --------------------------------------------

    def channel_row(self, tag: str) -> tuple[str, dict[str, Any]]:
        channel_id = f"se:{self.site}:{tag}"
        self.channels.add(channel_id)
        return "channels", {
            "channel_id": channel_id,
            "name": tag,
            "source": self.source,
        }

    def tag(self, a: dict[str, str], run: IngestRun) -> Rows:
        yield self.channel_row(require(a, "TagName"))

    def user_row(self, a: dict[str, str], run: IngestRun) -> Rows:
        created_at = parse_iso_timestamp(require(a, "CreationDate"), "CreationDate")
        row = {
            "user_id": self.id("user", require(a, "Id")),
            "created_at": created_at,
            "location_text": a.get("Location") or None,
            "source": self.source,
        }
        yield "users", row

    def post(self, a: dict[str, str], run: IngestRun) -> Rows:
        ident = require(a, "Id")
        kind = require(a, "PostTypeId")
        created_at = parse_iso_timestamp(require(a, "CreationDate"), "CreationDate")
        score = parse_int(a.get("Score"), "Score")
        owner = self.user(a.get("OwnerUserId"))

        if kind == "1":
            tags = _tags(a.get("Tags", ""))
            channel = f"se:{self.site}:{tags[0]}" if tags else None
            if tags and channel not in self.channels:
                yield self.channel_row(tags[0])
            parent = None
            text = _join(a.get("Title"), _plain(a.get("Body")))
        elif kind == "2":
            parent_ref = require(a, "ParentId")
            if parent_ref not in self.post_channel:
                run.skip(_MISSING_PARENT)
                return
            parent = self.id("post", parent_ref)
            channel = self.post_channel[parent_ref]
            text = _plain(a.get("Body"))
        else:
            run.skip("posts that are neither questions nor answers (tag wikis)")
            return

        self.post_channel[ident] = channel
        self.post_owner[ident] = owner
        row = {
            "post_id": self.id("post", ident),
            "user_id": owner,
            "channel_id": channel,
            "parent_id": parent,
            "created_at": created_at,
            "text": text,
            "score": score,
            "source": self.source,
        }
        yield "posts", row

    def comment(self, a: dict[str, str], run: IngestRun) -> Rows:
        ident = require(a, "Id")
        post = require(a, "PostId")
        created_at = parse_iso_timestamp(require(a, "CreationDate"), "CreationDate")
        score = parse_int(a.get("Score"), "Score")

        if post not in self.post_channel:
            run.skip(_MISSING_PARENT)
            return
        row = {
            "post_id": self.id("comment", ident),
            "user_id": self.user(a.get("UserId")),
            "channel_id": self.post_channel[post],
            "parent_id": self.id("post", post),
            "created_at": created_at,
            "text": a.get("Text"),
            "score": score,
            "source": self.source,
        }
        yield "posts", row

    def vote(self, a: dict[str, str], run: IngestRun) -> Rows:
        ident = require(a, "Id")
        post = require(a, "PostId")
        kind = require(a, "VoteTypeId")
        created_at = parse_iso_timestamp(require(a, "CreationDate"), "CreationDate")
        user = self.user(a.get("UserId"))

        if kind in _VOTE_VALUES:
            if post not in self.post_channel:
                run.skip(_MISSING_VOTED)
                return
            row = {
                "vote_id": self.id("vote", ident),
                "post_id": self.id("post", post),
                "user_id": user,
                "value": _VOTE_VALUES[kind],
                "created_at": created_at,
                "source": self.source,
            }
            yield "votes", row
            return
        if kind not in _VOTE_EVENTS and not kind.isdigit():
            raise RowProblem("VoteTypeId", "must be a vote type number", kind)
        if user is None:
            run.skip("votes of other types without a user (events need one)")
            return

        properties: dict[str, Any] = {"post_id": self.id("post", post)}
        if bounty := parse_int(a.get("BountyAmount"), "BountyAmount"):
            properties["bounty_amount"] = bounty
        name = _VOTE_EVENTS.get(kind, f"vote_type_{kind}")
        yield self.event(ident, "vote", user, name, created_at, properties)

    def badge(self, a: dict[str, str], run: IngestRun) -> Rows:
        properties = {
            "badge": require(a, "Name"),
            "class": parse_int(a.get("Class"), "Class"),
            "tag_based": a.get("TagBased") == "True",
        }
        ident = require(a, "Id")
        user = self.id("user", require(a, "UserId"))
        awarded_at = parse_iso_timestamp(require(a, "Date"), "Date")
        yield self.event(ident, "badge", user, "badge_awarded", awarded_at, properties)

    def post_link(self, a: dict[str, str], run: IngestRun) -> Rows:
        ident = require(a, "Id")
        post = require(a, "PostId")
        related = require(a, "RelatedPostId")
        created_at = parse_iso_timestamp(require(a, "CreationDate"), "CreationDate")
        kind = a.get("LinkTypeId", "")

        # The dump does not say who made a link; it is credited to the owner of
        # the post that holds it.
        owner = self.post_owner.get(post)
        if owner is None:
            run.skip("post links whose post has no known owner")
            return
        properties = {
            "post_id": self.id("post", post),
            "related_post_id": self.id("post", related),
            "link_type": _LINK_TYPES.get(kind, kind),
            "credited_to": "post_owner",
        }
        yield self.event(ident, "link", owner, "post_link", created_at, properties)

    def post_history(self, a: dict[str, str], run: IngestRun) -> Rows:
        ident = require(a, "Id")
        kind = require(a, "PostHistoryTypeId")
        post = require(a, "PostId")
        created_at = parse_iso_timestamp(require(a, "CreationDate"), "CreationDate")
        user = self.user(a.get("UserId"))

        if kind in _INITIAL_REVISIONS:
            run.skip("initial revisions (the post itself is already a post)")
            return
        if user is None:
            run.skip("post history rows without a user (events need one)")
            return
        name = _HISTORY_EVENTS.get(kind, f"post_history_{kind}")
        properties = {"post_id": self.id("post", post)}
        yield self.event(ident, "history", user, name, created_at, properties)

    def event(
        self,
        ident: str,
        kind: str,
        user: str,
        name: str,
        timestamp: Any,
        properties: dict[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        """An ``events`` row; ``kind`` keeps ids of different files apart."""
        row = {
            "event_id": self.id(kind, ident),
            "user_id": user,
            "name": name,
            "timestamp": timestamp,
            "properties": json.dumps(properties, sort_keys=True),
            "source": self.source,
        }
        return "events", row


Rows = Iterator[tuple[str, dict[str, Any]]]

_TABLE_OF = {
    "Tags.xml": "channels",
    "Users.xml": "users",
    "Posts.xml": "posts",
    "Comments.xml": "posts",
    "Votes.xml": "votes",
    "Badges.xml": "events",
    "PostLinks.xml": "events",
    "PostHistory.xml": "events",
}


def _tags(value: str) -> list[str]:
    """Tag names from ``<a><b>`` (older dumps) or ``|a|b|`` (newer dumps)."""
    return [a or b for a, b in _TAGS.findall(value) if (a or b)]


def _plain(body: str | None) -> str | None:
    """The text of an HTML body: tags dropped, entities resolved."""
    if not body:
        return None
    text = html.unescape(_HTML_TAG.sub("", body))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _join(title: str | None, body: str | None) -> str | None:
    parts = [part for part in (title, body) if part]
    return "\n\n".join(parts) or None
