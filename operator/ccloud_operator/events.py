"""How the operator's Events are posted: under its own name, from this pod, only what it chose to say."""

from __future__ import annotations

import logging
import socket

import kopf

from ccloud_operator.constants import EVENT_COMPONENT


def configure_posting(settings: kopf.OperatorSettings) -> None:
    """Set kopf's Event posting once, at start-up."""
    posting = settings.posting
    # Events carry only the operator's own wording: kopf's per-handler chatter (including "failed
    # temporarily" for every poll while Confluent provisions) stays in the log, because log lines are
    # not posted. The level stays at INFO so that kopf.event, kopf.info and kopf.warn all post (a
    # higher level silently drops the Warnings).
    posting.loggers = False
    posting.level = logging.INFO
    # `kubectl get events` shows who said it: this operator, and which pod (a pod's hostname is its
    # name unless the pod spec sets another; out of a cluster, the machine's name).
    posting.reporting_component = EVENT_COMPONENT
    posting.reporting_instance = socket.gethostname()
    posting.event_name_prefix = f"{EVENT_COMPONENT}-"
