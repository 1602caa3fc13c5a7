"""``syncd run``: the long-running service, its state lock, and how it talks to systemd."""
