"""Which name a person is shown by (docs/rules.md#display-names).

At ingestion every display name a header gives an address is kept as it will be shown ("Last, First
(Dept)" → "First Last", see ``connectors.displaynames``), with who wrote it, and counted; the store
hands the counts over per address. Choosing is then a lookup, first match wins:

1. your own choice: ``syncd set --name`` or a ``[[people]]`` name (the engine's ``standing``);
2. the name *you* used most in mail you sent (your address book's spelling);
3. the name used most by anyone else (including the one they give themselves);
4. the address.
"""

from __future__ import annotations

# name -> [times you wrote it, times anyone wrote it]
NameCounts = dict[str, list[int]]


def choose(counts: NameCounts) -> str | None:
    """The name you used most, else the one used most; ties go to the alphabetically last (stable)."""
    if not counts:
        return None
    return max(counts.items(), key=lambda item: (item[1][0], item[1][1], item[0]))[0]
