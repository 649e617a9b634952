"""The load generator's MQTT 3.1.1 packets, pre-encoded (bench only, not the bridge).

The throughput generator shares two cores with what it measures: a client library's
per-message cost made it the biggest process at 5,000 commands/s. So it writes CONNECT
and QoS 1 PUBLISH packets itself, in batches, and counts the 4-byte PUBACKs.
"""

from __future__ import annotations


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, keepalive: int) -> bytes:
    """CONNECT, clean session, no will, no credentials."""
    body = _string(b"MQTT") + bytes((4, 0x02)) + keepalive.to_bytes(2, "big")
    body += _string(client_id.encode())
    return b"\x10" + _length(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, mid: int) -> bytes:
    """PUBLISH at QoS 1, not retained."""
    body = _string(topic) + mid.to_bytes(2, "big") + payload
    return b"\x32" + _length(len(body)) + body
