"""The socket `serve` and `preview` listen on: TCP, so that asyncio disables Nagle on it."""

from __future__ import annotations

import socket

from newsletter.cli.web import listen


def test_the_listening_socket_says_it_is_tcp() -> None:
    """The listening and accepted sockets are IPPROTO_TCP, so asyncio sets TCP_NODELAY."""
    # Without it every response stalled ~40 ms on the client's delayed ACK.
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname()[:2], timeout=5)
        accepted, _ = sock.accept()
        try:
            assert accepted.proto == socket.IPPROTO_TCP
        finally:
            accepted.close()
            client.close()
    finally:
        sock.close()
