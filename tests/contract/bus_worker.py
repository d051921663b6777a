"""A producer or consumer of the embedded bus in its own process, for multi-process tests.

``python bus_worker.py produce DB TOPIC COUNT TAG [--batch N] [--pause S] [--unflushed N]
[--go FILE]`` sends ``COUNT`` messages ``TAG:KEY:SEQ`` (flushing every ``--batch``), then
optionally queues ``--unflushed`` more and dies without flushing (``os._exit``), like a
crash. With ``--go`` it touches ``FILE.TAG.ready`` and starts once ``FILE`` exists.

``python bus_worker.py consume DB TOPIC GROUP STOPFILE`` reads as a member of ``GROUP``,
commits after every batch, prints ``partition offset value`` per record, and leaves once
``STOPFILE`` exists and nothing more is to be read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from axiom.bus.embedded import EmbeddedBus


def _wait_for_go(go: str, tag: str) -> None:
    Path(f"{go}.{tag}.ready").touch()
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal within 60 s")
        time.sleep(0.005)


def _produce(args: argparse.Namespace) -> None:
    with EmbeddedBus(args.db) as bus:
        producer = bus.producer(client_id=args.tag)
        if args.go:
            _wait_for_go(args.go, args.tag)
        for seq in range(args.count):
            key = f"k{seq % 13}"
            producer.send(args.topic, f"{args.tag}:{key}:{seq}".encode(), key=key)
            if (seq + 1) % args.batch == 0:
                producer.flush()
                time.sleep(args.pause)
        producer.flush()
        if args.unflushed:
            for seq in range(args.unflushed):
                producer.send(args.topic, f"{args.tag}:lost:{seq}".encode(), key="lost")
            sys.stdout.flush()
            os._exit(3)
        producer.close()


def _consume(args: argparse.Namespace) -> None:
    stop = Path(args.stopfile)
    with EmbeddedBus(args.db) as bus, bus.consumer(args.group, [args.topic]) as consumer:
        print("joined", consumer.member_id, flush=True)
        while True:
            records = consumer.poll(500, timeout_s=0.1)
            for r in records:
                print(r.partition, r.offset, r.value.decode(), flush=True)
            if records:
                consumer.commit()
            elif stop.exists():
                break


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    produce = sub.add_parser("produce")
    produce.add_argument("db")
    produce.add_argument("topic")
    produce.add_argument("count", type=int)
    produce.add_argument("tag")
    produce.add_argument("--batch", type=int, default=100)
    produce.add_argument("--pause", type=float, default=0.0)
    produce.add_argument("--unflushed", type=int, default=0)
    produce.add_argument("--go", default="")
    consume = sub.add_parser("consume")
    consume.add_argument("db")
    consume.add_argument("topic")
    consume.add_argument("group")
    consume.add_argument("stopfile")
    args = parser.parse_args()
    (_produce if args.command == "produce" else _consume)(args)


if __name__ == "__main__":
    main()
