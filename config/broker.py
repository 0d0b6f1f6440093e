"""The Redis broker transport, with one fault of kombu's mended.

When Redis goes away, Celery closes the consumer's connection; closing a channel then
tries to restore its unacknowledged messages through a connection that is already gone,
and kombu raises AttributeError ('NoneType' object has no attribute 'hostname'). Celery
ignores connection errors there but takes any other error as unrecoverable, and the
worker exits. Raising the connection error that this really is lets the worker reconnect."""

from __future__ import annotations

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise redis.ConnectionError("The broker connection was closed.")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
