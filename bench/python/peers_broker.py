"""The broker comparison in Python (issue 10, "Speed"; bench/README.md,
"Over a broker"): fq.Queue and fq's raw calls with the queue on RabbitMQ,
against pika, the client Python users reach for, doing what fq does per call.

All three need FQ_BROKER (run.py --broker sets it, starting a private node
with tests/broker/with_rabbitmq.sh unless it is set already); without it
they fail rather than measure a FIFO. fq uses FQ_BROKER as its users would:
fq.Queue has no broker argument, the environment chooses.

The pika peer matches fq's broker transport (core/broker_transport.cpp) call
for call, so that the difference is fq's own cost:
  - the queue: durable, quorum, with the arguments fq's FQ_CREATE gives it for
    the default room (dead-letter routing to NAME.dlq, x-max-length 65535,
    x-max-length-bytes 256 MiB, x-overflow reject-publish);
  - one BlockingConnection per process, heartbeats off (fq turns them off),
    one channel in confirm mode (confirm_delivery);
  - send: basic_publish to the default exchange, persistent, mandatory; with
    confirms on, pika returns once the broker acked this publish (as fq_send
    does), raises UnroutableError on a return and NackError on a nack (the
    queue is full: published again after 1 ms doubling to 32 ms, as fq waits
    for room);
  - receive: basic_get (not basic_consume), then basic_ack; an empty queue is
    polled after 1 ms doubling to 32 ms. fq receives with basic.get, one
    message per request, so that a receiver never holds messages it has not
    asked for (core/broker.md says why); a consumer with prefetch would
    pipeline deliveries and measure a different protocol, not fq's overhead.
"""

import os
import time

import pika
import pika.exceptions

import peers_fq

MAX_PAUSE_S = 0.032


def broker_url():
    url = os.environ.get("FQ_BROKER")
    if not url:
        raise RuntimeError("FQ_BROKER is not set: the broker peers need a RabbitMQ node "
                           "(bench/run.py --broker starts one)")
    return url


class FqQueueBroker(peers_fq.FqQueue):
    """fq.Queue put/get, the queue on the broker."""

    def __init__(self, path, size, senders, receivers):
        broker_url()
        super().__init__(path, size, senders, receivers)

    def open(self, sending, index):
        # A child inherits the runner's handle; over the broker its first
        # call opens a connection of its own (the parent's is not touched
        # after a fork). Make that call here, before the start, as the pika
        # peer connects in open: the run times messages, not connecting.
        self.q.stats()
        return self


class FqRawBroker(FqQueueBroker, peers_fq.FqRaw):
    """fq raw send/recv, bytes, the queue on the broker."""


def _parameters():
    params = pika.URLParameters(broker_url())
    params.heartbeat = 0  # as fq: no heartbeats to answer between calls
    return params


def _queue_arguments(name):
    """What fq's BrokerTransport::main_args declares for the default room."""
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": name + ".dlq",
        "x-max-length": 65536 - 1,
        "x-max-length-bytes": 256 << 20,
        "x-overflow": "reject-publish",
    }


class Pika:
    """pika BlockingConnection: confirm_delivery, basic_publish, basic_get."""

    PERSISTENT = pika.BasicProperties(delivery_mode=2)

    def __init__(self, path, size, senders, receivers):
        self.queue = path
        # Made and closed before the fork: a child never shares a connection.
        conn = pika.BlockingConnection(_parameters())
        conn.channel().queue_declare(path, durable=True, arguments=_queue_arguments(path))
        conn.close()

    def open(self, sending, index):
        return _PikaEnd(self.queue)

    def destroy(self):
        conn = pika.BlockingConnection(_parameters())
        conn.channel().queue_delete(self.queue)
        conn.close()


class _PikaEnd:
    def __init__(self, queue):
        self.queue = queue
        self.conn = pika.BlockingConnection(_parameters())
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    def send(self, msg):
        pause = 0.001
        while True:
            try:
                self.ch.basic_publish("", self.queue, msg, properties=Pika.PERSISTENT,
                                      mandatory=True)
                return
            except pika.exceptions.NackError:  # full: wait for room, as fq does
                time.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_S)

    def recv(self):
        pause = 0.001
        while True:
            method, _, body = self.ch.basic_get(self.queue, auto_ack=False)
            if method is not None:
                self.ch.basic_ack(method.delivery_tag)
                return body
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

    def close(self):
        self.conn.close()  # every publish was confirmed: nothing is in flight
