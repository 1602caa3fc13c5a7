"""The real-server harness starts each server on a port it really holds: when another process takes the chosen
port first, the server is started again on another one, instead of the tests talking to whoever answers there."""

from __future__ import annotations

import socket

from tests.servers.base import free_port, listening
from tests.servers.xandikos import Xandikos


def test_a_port_taken_before_the_server_binds_it_is_replaced_by_another() -> None:
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken = squatter.getsockname()[1]
        server = Xandikos()
        server.port = taken  # as if another test's server had bound it right after free_port()
        server.start()
        try:
            assert server.port != taken
            assert server.process is not None and listening(server.process, server.port)
            assert not listening(server.process, taken)  # the squatter holds it, not Xandikos
        finally:
            server.stop()


def test_listening_is_false_for_a_port_the_process_does_not_hold() -> None:
    server = Xandikos().start()
    try:
        assert server.process is not None
        assert not listening(server.process, server.port, free_port())
    finally:
        server.stop()
