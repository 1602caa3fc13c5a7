"""The state database's schema: every version as a forward migration from the one before.

Version N of the schema is ``MIGRATIONS[:N]`` applied in order; ``PRAGMA user_version`` records which
ran. A released step is never edited: a change is a new step (a test opens a database of every older
version and checks it migrates with its data).

A step that drops or changes the contacts deletes the engine's ``contacts_fingerprint`` as well as its
``fingerprint`` (``engine_state``): a changed fingerprint alone recomputes every standing from the contacts
already derived (syncd.engine.refresh). A change of the rules alone needs no step: it raises
``syncd.engine.qualifying.RULES_VERSION``. (Steps up to v9 predate the second fingerprint: none of those
databases holds one.)
"""

from __future__ import annotations

import sqlite3

# Each entry migrates from version i to i+1. Never edit a released step: add one.
MIGRATIONS: list[str] = [
    # v1: synced data and the user's decisions.
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        last_pull_started TEXT,
        last_success TEXT,
        last_error TEXT,
        last_summary TEXT,            -- JSON: counts and skip reasons of the last pull
        owner_addresses TEXT          -- JSON list reported by the provider or guessed from sent folders
    );
    CREATE TABLE cursors (
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        resource TEXT NOT NULL,
        cursor TEXT,
        generation INTEGER NOT NULL DEFAULT 0,
        full_sync INTEGER NOT NULL DEFAULT 0,   -- 1 while a full sync of the resource is under way
        updated TEXT NOT NULL,
        PRIMARY KEY (account, resource)
    ) WITHOUT ROWID;
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('mail', 'event')),
        message_id TEXT UNIQUE,
        ts INTEGER,                   -- unix seconds, UTC; NULL when the item had no usable date
        end_ts INTEGER,
        subject TEXT,
        bulk TEXT,
        cancelled INTEGER NOT NULL DEFAULT 0,
        series_id TEXT,
        all_day INTEGER NOT NULL DEFAULT 0,
        link TEXT,
        owner_response TEXT,
        recipient_count INTEGER       -- mail: distinct To+Cc entries, unusable ones included
    );
    CREATE TABLE sightings (
        account TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
        generation INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, provider_id)
    ) WITHOUT ROWID;
    CREATE INDEX sightings_by_resource ON sightings(account, resource);
    CREATE INDEX sightings_by_interaction ON sightings(interaction_id);
    CREATE TABLE participants (
        interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        name TEXT,
        role TEXT NOT NULL,
        response TEXT
    );
    CREATE INDEX participants_by_interaction ON participants(interaction_id);
    CREATE INDEX participants_by_address ON participants(address);
    CREATE TABLE person_links (
        address TEXT PRIMARY KEY,
        person TEXT NOT NULL          -- the person's key: the address they were merged into
    ) WITHOUT ROWID;
    CREATE TABLE person_settings (
        person TEXT PRIMARY KEY,
        name TEXT,
        every_days INTEGER,
        tier TEXT,
        note TEXT,
        ignored INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE reminders (
        id INTEGER PRIMARY KEY,
        person TEXT NOT NULL,
        on_date TEXT NOT NULL,
        note TEXT,
        created TEXT NOT NULL
    );
    """,
    # v2: the engine's derived contacts and the planner's record of follow-ups.
    """
    CREATE TABLE contacts (
        address TEXT NOT NULL,
        interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('outbound', 'inbound', 'meeting')),
        ts INTEGER NOT NULL,
        PRIMARY KEY (address, interaction_id, kind)
    ) WITHOUT ROWID;
    CREATE INDEX contacts_by_interaction ON contacts(interaction_id);
    CREATE TABLE engine_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    -- Work queues for the incremental recompute: interactions whose contacts are not derived yet, and
    -- addresses that lost contacts (an interaction deleted or changed in place).
    CREATE TABLE pending_interactions (
        interaction_id INTEGER PRIMARY KEY REFERENCES interactions(id) ON DELETE CASCADE
    );
    CREATE TABLE touched_addresses (
        address TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    INSERT INTO pending_interactions(interaction_id) SELECT id FROM interactions;
    -- Display names seen per address, counted at ingestion, so naming a person needs no scan of
    -- every participant row.
    CREATE TABLE address_names (
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        seen INTEGER NOT NULL,
        PRIMARY KEY (address, name)
    ) WITHOUT ROWID;
    INSERT INTO address_names(address, name, seen)
        SELECT address, name, COUNT(*) FROM participants WHERE name IS NOT NULL GROUP BY address, name;
    -- The engine's last computed standing of each person (for "now"), refreshed incrementally.
    CREATE TABLE person_status (
        person TEXT PRIMARY KEY,
        valid_until INTEGER,          -- unix seconds at which the standing changes by itself
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE followups (
        key TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        origin TEXT NOT NULL,          -- cycle | reminder | series
        due TEXT NOT NULL,             -- ISO date the follow-up is for
        planned_start TEXT,            -- where syncd placed it (ISO, UTC)
        state TEXT NOT NULL,           -- pending | active | dismissed | done
        detail TEXT,                   -- JSON: what the planner needs to remember (cycle basis, ...)
        updated TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX followups_by_person ON followups(person);
    """,
    # v3: nothing skipped is forgotten, and one Message-ID from two senders is two messages.
    """
    -- Items a pull left out, kept until a later pull reads them or finds them gone, so an item that
    -- failed once (an unreadable file) is retried and `syncd status` can name every one.
    CREATE TABLE skipped_items (
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        resource TEXT NOT NULL,
        item TEXT NOT NULL,
        reason TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        pull INTEGER NOT NULL,        -- the account's pull that last reported it (accounts.pulls)
        PRIMARY KEY (account, resource, item)
    ) WITHOUT ROWID;
    CREATE INDEX skipped_by_item ON skipped_items(account, item);
    ALTER TABLE accounts ADD COLUMN pulls INTEGER NOT NULL DEFAULT 0;
    -- A mail's identity across folders and accounts: its Message-ID *and* its sender, so a second sender
    -- reusing an id (a broken client, a forgery) is a message of its own. message_id is no longer written.
    ALTER TABLE interactions ADD COLUMN message_key TEXT;
    UPDATE interactions SET message_key = message_id || char(10) || COALESCE(
        (SELECT p.address FROM participants p WHERE p.interaction_id = interactions.id AND p.role = 'from'
         ORDER BY p.rowid LIMIT 1), ''), message_id = NULL
    WHERE message_id IS NOT NULL;
    CREATE UNIQUE INDEX interactions_by_message ON interactions(message_key);
    """,
    # v4: what strength, the small network and names need (docs/rules.md#strength, docs/rules.md#display-names).
    """
    -- Per contact: whether P was addressed directly (To, or you in To of their mail; a meeting) rather
    -- than cc'd, and how many other people the message or meeting had. Re-derived at the next refresh.
    ALTER TABLE contacts ADD COLUMN direct INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE contacts ADD COLUMN others INTEGER NOT NULL DEFAULT 0;
    DELETE FROM engine_state WHERE key = 'fingerprint';
    -- Display names per address as shown ("Last, First" turned round), with who wrote them (the sender
    -- of the message), so the names in your own sent mail can win.
    DROP TABLE address_names;
    CREATE TABLE address_names (
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        named_by TEXT NOT NULL,
        seen INTEGER NOT NULL,
        PRIMARY KEY (address, name, named_by)
    ) WITHOUT ROWID;
    CREATE INDEX address_names_by_name ON address_names(name COLLATE NOCASE);
    INSERT INTO address_names(address, name, named_by, seen)
        SELECT p.address, shown_name(p.address, p.name), COALESCE(s.address, ''), COUNT(*)
        FROM participants p LEFT JOIN participants s ON s.interaction_id = p.interaction_id
            AND s.role IN ('from', 'organizer')
        WHERE p.name IS NOT NULL AND shown_name(p.address, p.name) IS NOT NULL
        GROUP BY 1, 2, 3;
    -- Your decisions about suggested merges you turned down (syncd merge --suggest --reject N).
    CREATE TABLE merge_rejections (
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        PRIMARY KEY (a, b)
    ) WITHOUT ROWID;
    """,
    # v5: the user's address books (synced data), and the addresses the user took out of a card's person.
    """
    -- One row per card or group of an address book; a group is a card of kind 'group' (a vCard group
    -- card, a Google contact group, an Outlook contact folder).
    CREATE TABLE cards (
        account TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        kind TEXT NOT NULL CHECK (kind IN ('card', 'group')),
        uid TEXT,                     -- what a group card's members name (vCard UID)
        name TEXT,
        organisation TEXT,
        birthday TEXT,                -- 1970-04-12, or --04-12 without a year
        first_seen TEXT NOT NULL,     -- when syncd first read the card (ISO, UTC)
        digest TEXT NOT NULL,         -- of what the card says, so a re-read that changes nothing touches nobody
        PRIMARY KEY (account, provider_id)
    ) WITHOUT ROWID;
    CREATE INDEX cards_by_resource ON cards(account, resource);
    CREATE INDEX cards_by_uid ON cards(account, uid);
    CREATE TABLE card_addresses (
        account TEXT NOT NULL,
        card TEXT NOT NULL,
        position INTEGER NOT NULL,    -- the card's own order: the preferred address first
        address TEXT NOT NULL,        -- normalised
        PRIMARY KEY (account, card, position),
        FOREIGN KEY (account, card) REFERENCES cards(account, provider_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX card_addresses_by_address ON card_addresses(address);
    -- The groups a card is in: a name written on the card, or the provider id of a group it points at.
    CREATE TABLE card_groups (
        account TEXT NOT NULL,
        card TEXT NOT NULL,
        name TEXT,
        group_id TEXT,
        FOREIGN KEY (account, card) REFERENCES cards(account, provider_id) ON DELETE CASCADE
    );
    CREATE INDEX card_groups_by_card ON card_groups(account, card);
    CREATE INDEX card_groups_by_group ON card_groups(account, group_id);
    -- The UIDs a group card lists as its members.
    CREATE TABLE group_members (
        account TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member_uid TEXT NOT NULL,
        PRIMARY KEY (account, group_id, member_uid),
        FOREIGN KEY (account, group_id) REFERENCES cards(account, provider_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX group_members_by_uid ON group_members(account, member_uid);
    -- A user decision: addresses taken out of the person their card makes (syncd unmerge).
    CREATE TABLE card_splits (
        address TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    """,
    # v6: the rate each provider was found to accept (Gmail's quota), per account, API and endpoint.
    """
    CREATE TABLE learned_rates (
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        api TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        units_per_minute REAL NOT NULL,
        regime TEXT NOT NULL,           -- the quota regime the connector inferred
        updated TEXT NOT NULL,
        PRIMARY KEY (account, api, endpoint)
    ) WITHOUT ROWID;
    """,
    # v7: contacts kept in the order they are derived (a rowid table) with the per-address order in an index
    # built in one go, instead of a table clustered by address that a full derive fills in random order:
    # a full recompute of a million interactions spent most of its time there. Contacts are derived data:
    # the recompute this forces derives them again.
    """
    DROP TABLE contacts;
    CREATE TABLE contacts (
        address TEXT NOT NULL,
        interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('outbound', 'inbound', 'meeting')),
        ts INTEGER NOT NULL,
        direct INTEGER NOT NULL DEFAULT 1,
        others INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX contacts_by_address ON contacts(address, kind, ts, interaction_id, direct, others);
    CREATE INDEX contacts_by_interaction ON contacts(interaction_id);
    DELETE FROM engine_state WHERE key = 'fingerprint';
    """,
    # v8: where a follow-ups target found or made its calendar, so the next run goes straight to it.
    """
    CREATE TABLE target_places (
        target TEXT NOT NULL,           -- followups.target: the account holding the follow-ups
        what TEXT NOT NULL,             -- what the target looked for, in its own words (a calendar's name)
        place TEXT NOT NULL,            -- what it found: the provider's id of it
        updated TEXT NOT NULL,
        PRIMARY KEY (target, what)
    ) WITHOUT ROWID;
    """,
    # v9: the engine's tables made cheaper to rebuild (docs/sqlite.md#the-engines-tables). Participants by
    # interaction with the role and address in the index, so the per-message pass of a derive reads the index
    # alone. Each person's standing in a rowid table: its data (about 1 KB of JSON) made a table clustered by
    # person spill into overflow pages. Contacts and the queue of interactions to derive without a foreign
    # key: the store already removes an interaction's contacts itself before the interaction (and a queued id
    # whose interaction is gone derives nothing), while the key cost a lookup per contact written and turned
    # emptying either table from one step into a row-by-row delete. Contacts and standings are derived (the
    # recompute this forces rebuilds them); the queue is copied.
    """
    DROP INDEX participants_by_interaction;
    CREATE INDEX participants_by_interaction ON participants(interaction_id, role, address);
    DROP TABLE person_status;
    CREATE TABLE person_status (
        person TEXT NOT NULL UNIQUE,
        valid_until INTEGER,          -- unix seconds at which the standing changes by itself
        data TEXT NOT NULL
    );
    DROP TABLE contacts;
    CREATE TABLE contacts (
        address TEXT NOT NULL,
        interaction_id INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('outbound', 'inbound', 'meeting')),
        ts INTEGER NOT NULL,
        direct INTEGER NOT NULL DEFAULT 1,
        others INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX contacts_by_address ON contacts(address, kind, ts, interaction_id, direct, others);
    CREATE INDEX contacts_by_interaction ON contacts(interaction_id);
    CREATE TABLE pending_queue (
        interaction_id INTEGER PRIMARY KEY
    );
    INSERT INTO pending_queue SELECT interaction_id FROM pending_interactions;
    DROP TABLE pending_interactions;
    ALTER TABLE pending_queue RENAME TO pending_interactions;
    DELETE FROM engine_state WHERE key = 'fingerprint';
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration script into statements, letting SQLite decide where one ends."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        not line.strip() or line.strip().startswith("--") for line in pending.splitlines()
    ):
        raise ValueError(f"incomplete migration statement: {pending.strip()[:60]}")
    return statements
