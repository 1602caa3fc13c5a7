"""The starter configuration ``syncd init`` writes (it never overwrites a file), and the starter tiers it
offers for the groups of the user's address books."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

STARTER_CONFIG = """\
# syncd configuration. Every key is documented in config.example.toml;
# check this file with `syncd config check`.

# One table per mail archive, calendar export or online account:
# [accounts.archive]
# provider = "maildir"          # maildir | mbox | ics
# path = "~/Mail"
# me = ["you@example.com"]      # your own addresses
#
# [accounts.gmail]              # then: syncd auth login gmail
# provider = "google"
# client_secret = "~/.config/syncd/google-client.json"
#
# [accounts.outlook]            # then: syncd auth login outlook
# provider = "microsoft"
# client_id = "<your app registration's client id>"
#
# [accounts.contacts]           # an address book: names, groups and birthdays
# provider = "vcard"            # vcard (a .vcf file or folder) | carddav; or contacts = true on
# path = "~/contacts.vcf"       #   a google or microsoft account

[followups]
target = "ics"                  # an .ics file any calendar app imports, or an online account ("gmail")
# ics_path = "~/followups.ics"
slot = "09:30"
per_day = 3

[[tiers]]
name = "directory"              # kept and findable, never reminded
remind = false
match = []
"""

# Groups every address book has, which say nothing about how to keep in touch.
SYSTEM_GROUPS = frozenset({"mycontacts", "my contacts", "starred", "starred in android", "contacts"})
# Groups named like these are often people you only need to find again: the directory is suggested for
# them, in a comment, never set (docs/rules.md#groups-as-tiers).
DIRECTORY_WORDS = re.compile(
    r"supplier|vendor|service|contractor|trades|shop|store|repair|plumber|electrician|doctor|dentist|utilit",
    re.IGNORECASE,
)


def _tier_name(group: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", group.casefold()).strip("-") or "group"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def starter_tiers(groups: Mapping[str, int], named: Iterable[str] = (), tiers: Iterable[str] = ()) -> str:
    """Commented-out ``[[tiers]]`` tables, one per address-book group (largest first) that no tier names yet;
    ``named`` are the groups tiers name already, ``tiers`` the tier names taken. "" when there are none."""
    skip = {name.casefold() for name in named} | SYSTEM_GROUPS
    taken = set(tiers)
    lines: list[str] = []
    for group, size in sorted(groups.items(), key=lambda item: (-item[1], item[0].casefold())):
        if group.casefold() in skip:
            continue
        skip.add(group.casefold())
        quoted = group.replace("\\", "\\\\").replace('"', '\\"')
        lines += ["#", "# [[tiers]]", f'# name = "{_tier_name(group, taken)}"', f'# groups = ["{quoted}"]'
                  + f"  # {size} {'card' if size == 1 else 'cards'}"]
        if DIRECTORY_WORDS.search(group):
            lines.append("# remind = false              # suggested: kept and findable, never reminded")
        else:
            lines.append('# every = "90d"                # their rhythm')
    if not lines:
        return ""
    head = "# Starter tiers, one per group of your address books: uncomment the ones you want, set a rhythm."
    return "\n".join([head, *lines[1:]]) + "\n"
