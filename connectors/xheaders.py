"""Names from ``X-From`` / ``X-To`` / ``X-cc``: archives converted from Exchange and Lotus Notes carry the
names there that their ``From`` / ``To`` / ``Cc`` lack (docs/rules.md#display-names).

Their formats, all seen in real archives (the Enron corpus among them)::

    X-To: Hyatt, Kevin </O=ENRON/OU=NA/CN=RECIPIENTS/CN=Khyatt>, Scholtes, Diana </O=ENRON/...>
    X-To: Julie McCoy, Steve Klimesh, Gary Sova
    X-To: John Sherriff <John Sherriff@ECT>, 'lisa.will@powerex.com'
    X-To: "Woertz, Byron" <BWoertz@caiso.com>

Mostly names only, without the address. When the X- header has as many entries as the real header has
addresses, and any real address an entry carries is the one at its place, they pair by position (the
converter wrote the list in the header's order). Otherwise in three steps: an entry that carries a real
address pairs with that address; a name whose words spell an address's local part pairs with it (when
only one fits); what is left pairs by position, but only when as many names as addresses are left, so
a list that lost or gained an entry pairs nothing wrong.
"""

from __future__ import annotations

import re
from collections import defaultdict

from connectors.displaynames import display_name, local_words, name_fits, name_words, spellings

Entry = tuple[str, str | None]  # (the name as written, an address the entry carries, or None)


# An entry: quoted strings, bracketed parts and anything but a comma, so commas inside quotes or
# angle brackets do not split it.
_ENTRY = re.compile(r'(?:"[^"]*"?|<[^>]*>?|[^,"<])+')


def _split(value: str) -> list[str]:
    """Split at commas outside quotes and angle brackets."""
    return [piece.strip() for piece in _ENTRY.findall(value) if piece.strip()]


def _address_in(text: str) -> str | None:
    candidate = text.strip().strip("'\"").strip()
    if "@" in candidate and " " not in candidate and "/" not in candidate and not candidate.startswith("?"):
        return candidate.lower()
    return None


def entries(value: str) -> list[Entry]:
    """The entries of an X- header, in order.

    Exchange brackets every entry and writes its name "Last, First" with an unquoted comma, so where
    brackets are used the comma inside a name is told from the comma between entries by position: the
    pieces before a bracket are one name, except leading pieces that are addresses on their own.
    """
    found: list[Entry] = []
    pieces = _split(value)
    if "<" not in value:
        for piece in pieces:
            address = _address_in(piece)
            found.append(("", address) if address else (piece.strip("'\" "), None))
        return found
    waiting: list[str] = []
    for piece in pieces:
        if "<" not in piece:
            waiting.append(piece)
            continue
        name, _, rest = piece.partition("<")
        inside = rest.rsplit(">", 1)[0]
        while waiting and _address_in(waiting[0]):
            found.append(("", _address_in(waiting.pop(0))))
        written = ", ".join([*waiting, name.strip()]) if waiting else name.strip()
        waiting = []
        found.append((written.strip("'\" "), _address_in(inside)))
    for piece in waiting:  # trailing pieces after the last bracket
        address = _address_in(piece)
        found.append(("", address) if address else (piece.strip("'\" "), None))
    return found


def pair(value: str, addresses: list[str]) -> dict[int, str]:
    """Names for ``addresses`` (the real header's addresses in order): index → name as written."""
    listed = entries(value)
    lowered = [a.strip().strip("<>'\"").lower() for a in addresses]
    if len(listed) == len(lowered) and all(c is None or c == a for (_, c), a in zip(listed, lowered, strict=True)):
        # As many entries as addresses, and those that carry an address carry the one at their place:
        # the converter wrote the list in the header's order (the common case, and the cheap one).
        return {index: name for index, (name, _) in enumerate(listed) if name}
    position = {address: index for index, address in reversed(list(enumerate(lowered)))}
    named: dict[int, str] = {}
    left: list[Entry] = []
    for name, carried in listed:  # 1. an entry with its own address
        if carried is not None and carried in position:
            index = position[carried]
            if name and index not in named:
                named[index] = name
        elif name:
            left.append((name, carried))
    unpaired = {i for i in range(len(addresses)) if i not in named}
    lookup = _spelled(lowered, unpaired)
    rest: list[Entry] = []
    for entry in left:  # 2. a name that spells exactly one address
        shown = display_name(entry[0]) or ""
        words = name_words(shown)
        candidates = sorted(lookup.get(words[-1], set()) | {i for s in spellings(words) for i in lookup.get(s, ())}
                            ) if len(words) >= 2 else []
        fits = [i for i in candidates if i in unpaired and name_fits(shown, lowered[i])]
        if len(fits) == 1:
            named[fits[0]] = entry[0]
            unpaired.remove(fits[0])
        else:
            rest.append(entry)
    carried_left = sum(1 for _, carried in listed if carried is not None and carried not in position)
    if rest and len(rest) == len(unpaired) and carried_left == 0 and len(listed) == len(addresses):
        for (name, _), index in zip(rest, sorted(unpaired), strict=True):  # 3. by position
            named[index] = name
    return named


def _spelled(addresses: list[str], indices: set[int]) -> dict[str, set[int]]:
    """Address indices by the words a name could match them on (see ``name_fits``): the local part
    written as one word, and its first and last words."""
    found: dict[str, set[int]] = defaultdict(set)
    for index in indices:
        words = local_words(addresses[index])
        if words:
            found["".join(words)].add(index)
            found[words[0]].add(index)
            found[words[-1]].add(index)
    return found

