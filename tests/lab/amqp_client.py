"""A tiny AMQP client run inside a lab node: publish with confirms, read a depth.

The nodes' addresses exist only in their network namespaces, so the tests
run this module there (``nsenter`` ... ``python -m tests.lab.amqp_client``)
and read one JSON line from its output::

    publish HOST PORT QUEUE COUNT [classic|quorum]  ->  {"confirmed": N}
    depth HOST PORT QUEUE                           ->  {"depth": N}

A message counts as confirmed only when ``basic_publish`` returned, which
pika's blocking channel does only after the broker's confirm.
"""

from __future__ import annotations

import json
import sys


def _connection(host: str, port: int):  # noqa: ANN202 - pika is imported lazily
    import pika  # noqa: PLC0415

    params = pika.ConnectionParameters(
        host, port, connection_attempts=3, retry_delay=1, socket_timeout=10
    )
    return pika.BlockingConnection(params)


def publish(host: str, port: int, queue: str, count: int, kind: str) -> int:
    """Publish ``count`` persistent messages to durable ``queue``; the confirmed."""
    import pika  # noqa: PLC0415

    with _connection(host, port) as conn:
        channel = conn.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": kind})
        channel.confirm_delivery()
        confirmed = 0
        for n in range(count):
            channel.basic_publish(
                "",
                queue,
                f"m{n}".encode(),
                pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )
            confirmed += 1
    return confirmed


def depth(host: str, port: int, queue: str) -> int:
    """Messages ready in ``queue``."""
    with _connection(host, port) as conn:
        declared = conn.channel().queue_declare(queue, passive=True)
        return int(declared.method.message_count)


def main(argv: list[str]) -> int:
    """Run one command; print its JSON result."""
    command, host, port, queue = argv[0], argv[1], int(argv[2]), argv[3]
    if command == "publish":
        kind = argv[5] if len(argv) > 5 else "classic"  # noqa: PLR2004
        result = {"confirmed": publish(host, port, queue, int(argv[4]), kind)}
    elif command == "depth":
        result = {"depth": depth(host, port, queue)}
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
