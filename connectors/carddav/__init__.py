"""CardDAV address books (``provider = "carddav"``): the user's cards on any standards-based server (Nextcloud,
Fastmail, iCloud, Radicale, Xandikos, ...), read through the same connection and collection sync as CalDAV
(:mod:`connectors.caldav`).

``discovery`` finds the address-book home and its address books (docs/carddav.md#discovery); ``book`` reads
their cards incrementally (sync-collection, else ETags) and parses them with :mod:`connectors.vcardparse`;
``login`` is ``syncd auth login`` for the account's password.
"""

from __future__ import annotations

from connectors import password
from connectors.base import Provider
from connectors.settings import REQUIRED, Key, string, url

CARDDAV = Provider(
    "carddav",
    (
        Key("url", url, REQUIRED, "the CardDAV server (e.g. https://carddav.fastmail.com/) or one address book's URL"),
        Key("address_books", string, (), "address books read, by name or URL (default: all of yours)", many=True),
        *password.KEYS,
    ),
    source=None,
    address_book="connectors.carddav.book:CardDavBook",
    login="connectors.carddav.login",
    revoke_page="your address book provider's app-password settings (if you made one for syncd)",
)
