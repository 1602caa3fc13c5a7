"""syncd: keeps relationships from going cold.

The pipeline is the design::

    sources ──▶ store ──▶ engine ──▶ planner ──▶ targets
    connectors/  store.py  engine.py   planner.py   connectors/
    (maildir,    (SQLite:  (who counts, reconcile.py (ics file, ...)
     mbox, ics)   synced,   last contact, (slots, snooze,
                  decisions, cadence,     dismiss, safety
                  bookkeeping) due)       rails)

* ``connectors.base`` defines the two interfaces every connector speaks (``Source``, ``CalendarTarget``)
  and their vocabulary; ``connectors`` maps ``provider = "..."`` to a class.
* ``pull`` drives sources into the ``store``, one transaction per batch with its cursor.
* ``engine`` derives qualifying contacts, persons, last contact, cadence and due dates (``model`` holds
  what it hands on); ``people`` holds the user's decisions (merge, set, remind).
* ``planner`` places follow-ups in time; ``reconcile`` compares them with the target and applies.
* ``job`` runs pull → engine → reconcile; ``cli`` (and later the daemon) are thin shells over it.
* ``config`` validates the TOML file; ``paths`` finds it and the state directory; ``errors`` maps
  domain errors to exit codes.
"""
