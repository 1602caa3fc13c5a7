"""The starter configuration ``syncd init`` writes (it never overwrites a file)."""

from __future__ import annotations

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
