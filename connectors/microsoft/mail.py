"""Outlook mail metadata through Microsoft Graph message delta, one resource (``mail:<folder>``) per folder.

Delta works per folder (docs/microsoft-graph.md#mail): the first request of a round carries ``$select`` (metadata fields
only: no subject, no body) and ``Prefer: odata.maxpagesize=1000``; every later request replays the
``@odata.nextLink`` / ``@odata.deltaLink`` verbatim. Each page is one :class:`~connectors.base.Batch`
whose cursor is the link that follows it, so a pull killed mid-round resumes at the next page instead of
starting over, and a 100,000-message folder costs about 100 requests.

The cursor is a small JSON object: the link, whether the round is a full sync (a round from scratch
sees every message of the folder, so rows it did not see are stale when it completes), and the owner's
address from ``/me``, so an incremental pull with nothing new costs one request per folder and no more.

Graph's quirks handled here: ``@removed`` entries (deleted, or moved to another folder: a move keeps the
immutable id, so a removal is applied only to rows the store holds under this folder); replays (an item
can come twice, docs/microsoft-graph.md#mail: the merge is idempotent); 410 / SyncStateNotFound → :class:`CursorExpired`
and a resync of that folder alone.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.base import (
    Batch,
    ConnectorError,
    CursorExpired,
    Interaction,
    KnownIds,
    Participant,
    Role,
    Skip,
    Source,
)
from connectors.mailparse import _message_id
from connectors.microsoft.graph import DeltaExpired, GraphConnector, GraphError, Page, delta_link_of

# The metadata fields, exactly the list in docs/microsoft-graph.md#mail: Mail.ReadBasic covers them, and nothing
# here is content.
SELECT = ("id,from,sender,toRecipients,ccRecipients,sentDateTime,receivedDateTime,inferenceClassification,"
          "internetMessageId,conversationId,parentFolderId,isDraft")
PAGE_SIZE = 1000  # the largest page Graph serves for messages (docs/microsoft-graph.md#mail)
CURSOR_VERSION = 1


class OutlookMailSource(GraphConnector, Source):
    provider = "microsoft"

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        # Inbox and Sent Items always; configured folders are read besides them (first, in their order).
        folders = list(dict.fromkeys([*self.settings.get("folders", ()), "inbox", "sentitems"]))  # ids: case kept
        states = {folder: _load_cursor(cursors.get(_resource(folder))) for folder in folders}
        me = next((state["me"] for state in states.values() if state and state.get("me")), None)
        if me is None or any(state is None for state in states.values()):
            # A full round reads the profile again (an address change is picked up); an incremental pull
            # with a remembered address spends no request on it.
            me = self._profile_address()
        owners = _unique([me, *self.settings.get("me", ())])
        for folder in folders:
            yield from self._folder(folder, states[folder], me, owners, known)

    # ---- one folder --------------------------------------------------------------------------------------

    def _folder(
        self, folder: str, state: dict[str, Any] | None, me: str, owners: list[str], known: KnownIds
    ) -> Iterator[Batch]:
        resource = _resource(folder)
        client = self.client
        params: dict[str, str] | None
        if state is None:
            url, params, full = f"me/mailFolders/{quote(folder, safe='')}/messages/delta", {"$select": SELECT}, True
        else:
            url, params, full = delta_link_of(client, resource, str(state["link"])), None, bool(state.get("full"))
        owner_set = {address.lower() for address in owners}
        held: set[str] | None = None  # ids the store holds under this folder, read at the first removal
        try:
            pages = client.pages(url, params=params, headers={"Prefer": f"odata.maxpagesize={PAGE_SIZE}"},
                                 what=f"Outlook folder {folder}")
            for page in _ahead(pages) if self.settings.get("prefetch", True) else pages:
                done = page.delta_link is not None
                link = page.delta_link or page.next_link
                if link is None:
                    raise ConnectorError(f"Outlook folder {folder}: Graph answered a page with neither a next "
                                         "nor a delta link")
                interactions, removed, skipped = _convert(page.value, folder, owner_set)
                if removed:
                    if held is None:
                        held = known.known_ids(resource)
                    # A move to another folder reports @removed here and the same id there; only rows this
                    # folder holds are gone (the other folder's sighting must survive, in either order).
                    removed = [ident for ident in removed if ident in held]
                    held.difference_update(removed)
                if held is not None:
                    held.update(item.provider_id for item in interactions)
                cursor = json.dumps({"v": CURSOR_VERSION, "link": link, "full": full and not done, "me": me})
                yield Batch(resource, cursor, interactions, removed, skipped, full=full, complete=full and done,
                            owner_addresses=owners)
        except DeltaExpired as exc:
            raise CursorExpired(resource, str(exc)) from None
        except GraphError as exc:
            if exc.status == 404:
                raise ConnectorError(f"Outlook has no mail folder '{folder}' (check 'folders')") from None
            raise

    def _profile_address(self) -> str:
        profile = self.client.request("GET", "me", params={"$select": "userPrincipalName,mail"},
                                      what="Microsoft profile") or {}
        # `mail` is the SMTP address mail is sent from; a personal account's UPN is its sign-in name.
        address = str(profile.get("mail") or profile.get("userPrincipalName") or "")
        if "@" not in address:
            raise ConnectorError("Microsoft Graph returned a profile without an email address")
        return address.lower()


def _ahead(pages: Iterator[Page]) -> Iterator[Page]:
    """``pages``, fetched one page ahead in a thread: the next request's ~100 ms overlap the store's commit.

    Only the network runs in the thread (the store's SQLite connection stays in the caller's thread); an
    error is raised where the page would have been. When the caller stops early (a kill, a stop request),
    the page fetched ahead is dropped: the committed cursor still names it, so the next pull reads it again.
    """
    slot: queue.Queue[tuple[Page | None, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        slot.put((page, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slot.put((None, None))
        except BaseException as exc:  # handed to the caller, who raises it in its own thread
            slot.put((None, exc))

    worker = threading.Thread(target=fetch, name="graph-mail-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            page, error = slot.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
        # Unblock a pending put and give the request in flight a moment to finish; one stuck in a long
        # Retry-After wait is left to end by itself (a daemon thread that stops at its next page).
        deadline = time.monotonic() + 5.0
        while worker.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                slot.get(timeout=0.05)


# ---- conversion -------------------------------------------------------------------------------------------


def _resource(folder: str) -> str:
    return f"mail:{folder}"


def _load_cursor(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return None  # an unreadable cursor means a full round, never a crash
    if not isinstance(state, dict) or state.get("v") != CURSOR_VERSION or not state.get("link"):
        return None
    return state


def _unique(addresses: Any) -> list[str]:
    seen: dict[str, None] = {}
    for address in addresses:
        if address:
            seen.setdefault(str(address).strip().lower(), None)
    return list(seen)


def _convert(
    value: list[dict[str, Any]], folder: str, owners: set[str]
) -> tuple[list[Interaction], list[str], list[Skip]]:
    """One page → interactions, removed ids, skips. The last entry for an id wins (replays, remove-then-add)."""
    latest: dict[str, Interaction | Skip | None] = {}
    nameless: list[Skip] = []
    for entry in value:
        ident = entry.get("id")
        if not ident:
            nameless.append(Skip(f"mail:{folder} message without an id", "unreadable entry"))
            continue
        latest.pop(ident, None)  # re-insert, so the order is that of the last sighting
        latest[ident] = None if "@removed" in entry else _interaction(entry, folder, owners)
    interactions = [item for item in latest.values() if isinstance(item, Interaction)]
    skipped = [*nameless, *(item for item in latest.values() if isinstance(item, Skip))]
    removed = [ident for ident, item in latest.items() if item is None]
    return interactions, removed, skipped


def _interaction(message: dict[str, Any], folder: str, owners: set[str]) -> Interaction | Skip:
    ident = str(message["id"])
    what = f"mail:{folder} message {ident[:24]}"
    if message.get("isDraft"):
        return Skip(what, "draft: not sent, no contact")
    participants: list[Participant] = []
    sender = _address(message.get("from")) or _address(message.get("sender"))
    if sender:
        participants.append(Participant(sender[0], sender[1], "from"))
    recipients = 0
    for field, role in (("toRecipients", "to"), ("ccRecipients", "cc")):
        for entry in message.get(field) or []:
            recipients += 1  # X.500 paths count towards the recipient cap too (connectors.base)
            found = _address(entry)
            if found:
                participants.append(Participant(found[0], found[1], _role(role)))
    if not participants:
        return Skip(what, "no addresses: neither sender nor recipients have an email address")
    outbound = bool(sender and sender[0].lower() in owners)
    # The owner's own mail counts from when it was sent, the rest from when it arrived (docs/rules.md#timestamp).
    first, second = ("sentDateTime", "receivedDateTime") if outbound else ("receivedDateTime", "sentDateTime")
    timestamp = _time(message.get(first)) or _time(message.get(second))
    bulk = None
    if not outbound and str(message.get("inferenceClassification") or "").lower() == "other":
        bulk = "inferenceClassification: other"  # Outlook's "Other" inbox: newsletters, notifications
    return Interaction(
        provider_id=ident, kind="mail", timestamp=timestamp, participants=participants,
        message_id=_message_id(message.get("internetMessageId")), bulk=bulk, recipient_count=recipients,
    )


def _role(role: str) -> Role:
    return "cc" if role == "cc" else "to"


def _address(entry: Any) -> tuple[str, str] | None:
    """(address, name) of a Graph ``recipient``; None for entries without a usable SMTP address."""
    if not isinstance(entry, dict):
        return None
    email = entry.get("emailAddress") or {}
    address = str(email.get("address") or "").strip()
    if "@" not in address or " " in address or address.startswith("/"):
        return None  # Exchange sometimes gives an X.500 path (/O=EXCHANGELABS/...) instead of an address
    name = str(email.get("name") or "").strip()
    return address, "" if name.lower() == address.lower() else name


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
