"""How the operator's Events are posted: under its own name, from this pod, only what it chose to say."""

from __future__ import annotations

import logging
import socket

import kopf

from ccloud_operator.constants import EVENT_COMPONENT

#: Events posted at once (kopf's posting workers). Each object's Events go through one poster, in order.
EVENT_POSTERS = 8

#: Seconds a poster waits for more Events of its object before it frees its place for another object's.
#: With the posters bounded, kopf's default (1 s) lets about one object's Events per poster through a
#: second: with 4 posters, a bulk apply of 10,000 connectors still had some 10,000 objects' queues of
#: Events waiting 75 s after all were Ready, 40 MiB of the steady reading.
EVENT_POSTER_IDLE_SECONDS = 0.05


def configure_posting(settings: kopf.OperatorSettings) -> None:
    """Set kopf's Event posting once, at start-up."""
    posting = settings.posting
    # Events carry only the operator's own wording: kopf's per-handler chatter (including "failed
    # temporarily" for every poll while Confluent provisions) stays in the log, because log lines are
    # not posted. The level stays at INFO so that kopf.event, kopf.info and kopf.warn all post (a
    # higher level silently drops the Warnings).
    posting.loggers = False
    posting.level = logging.INFO
    # kopf posts each object's Events from a worker of its own, over a session with no connection limit:
    # a bulk apply's 900 connectors failing and restarting at once held 55-65 TLS connections to the API
    # server (a 256 KiB read buffer and OpenSSL's state each). Bounded, the posters hold at most
    # EVENT_POSTERS of them; Events wait in kopf's queue instead, and none is dropped.
    posting.worker_limit = EVENT_POSTERS
    posting.idle_timeout = EVENT_POSTER_IDLE_SECONDS
    # `kubectl get events` shows who said it: this operator, and which pod (a pod's hostname is its
    # name unless the pod spec sets another; out of a cluster, the machine's name).
    posting.reporting_component = EVENT_COMPONENT
    posting.reporting_instance = socket.gethostname()
    posting.event_name_prefix = f"{EVENT_COMPONENT}-"
