"""Real servers the tests start on loopback (Dovecot, Radicale, Xandikos), and the fixtures that share them."""
