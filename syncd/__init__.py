"""syncd: keeps relationships from going cold.

The pipeline is the design, and the folders show it::

    sources ──────────▶ store ─────────▶ engine ──────────▶ plan ──────────▶ targets
    connectors/<provider>  syncd/store/     syncd/engine/      syncd/plan/      connectors/<provider>
    (maildir, mbox, ics,   (SQLite; one     (who counts, last  (slots, snooze,  (.ics file, Google,
     Gmail, Outlook)        module a kind    contact, cadence,  dismiss, safety  Outlook calendars)
                            of table)        due, why)          rails)

* ``connectors`` lists the providers (one line each); each provider's package declares its keys, source,
  target and login. ``syncd.accounts`` turns an account of the configuration into its connectors.
* ``pull`` drives the sources into the ``store``, one transaction per batch with its cursor.
* ``engine`` derives qualifying contacts, persons, last contact, cadence and due follow-ups.
* ``plan`` places follow-ups in time and reconciles them with the target.
* ``pipeline`` runs pull → engine → plan; ``cli`` and ``service`` (``syncd run``) are thin shells over it.
* ``config`` reads and validates the TOML file; ``tokens`` keeps secrets; ``paths`` finds the config and
  the state; ``errors`` maps domain errors to exit codes.
"""
