"""Enforcement after a plan drops: a retried task, the notice before the mail, nothing enforced twice.

The mail server is a real SMTP listener on loopback that refuses the first attempt(s) with a 5xx and
then accepts, as a mail relay that is briefly unhappy does.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from accounts.models import Notice, User
from billing.enforcement import registered_plan_enforcers
from billing.models import PlanEnforcement
from platforms.models import PlatformConnection
from tests.billing.conftest import Endpoint, post_event, row, subscribe
from tests.fakes.stripe_api import FakeStripe

pytestmark = [pytest.mark.usefixtures("catalog"), pytest.mark.django_db(transaction=True)]


class RefusingSMTPServer:
    """A minimal SMTP server on 127.0.0.1: answers ``MAIL FROM`` with 554 ``refusals`` times, then takes
    messages. ``on_mail_from`` runs at every ``MAIL FROM``, before the answer."""

    def __init__(self, refusals: int, on_mail_from: Callable[[], None]) -> None:
        self.refusals = refusals
        self.on_mail_from = on_mail_from
        self.attempts = 0
        self.messages: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RefusingSMTPServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn, conn.makefile("rb") as incoming:
                conn.settimeout(10)
                self._session(conn, incoming)

    def _session(self, conn: socket.socket, incoming: Any) -> None:
        conn.sendall(b"220 127.0.0.1 ESMTP test\r\n")
        while line := incoming.readline():
            verb = line.decode().strip().upper()
            if verb.startswith(("EHLO", "HELO")):
                conn.sendall(b"250 127.0.0.1\r\n")
            elif verb.startswith("MAIL FROM"):
                self.attempts += 1
                self.on_mail_from()
                if self.refusals > 0:
                    self.refusals -= 1
                    conn.sendall(b"554 5.7.1 Not now\r\n")
                else:
                    conn.sendall(b"250 OK\r\n")
            elif verb.startswith("DATA"):
                conn.sendall(b"354 Go ahead\r\n")
                body = []
                while (data := incoming.readline()) not in (b".\r\n", b""):
                    body.append(data.decode())
                self.messages.append("".join(body))
                conn.sendall(b"250 Queued\r\n")
            elif verb.startswith("QUIT"):
                conn.sendall(b"221 Bye\r\n")
                return
            else:  # RCPT, RSET, NOOP
                conn.sendall(b"250 OK\r\n")


@pytest.fixture
def smtp(settings: Any, owner: User) -> Iterator[tuple[RefusingSMTPServer, list[bool]]]:
    notice_there: list[bool] = []

    def look_for_the_notice() -> None:
        try:
            notice_there.append(Notice.objects.filter(user=owner, message__contains="now Free").exists())
        finally:
            connections.close_all()

    with RefusingSMTPServer(refusals=2, on_mail_from=look_for_the_notice) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        yield server, notice_there


def test_the_enforcers_are_registered_by_the_apps_that_own_the_resources() -> None:
    assert set(registered_plan_enforcers()) == {
        "platforms.destinations",
        "streaming.live_sessions",
        "recordings.storage",
    }


def test_a_refusing_mail_server_is_retried_the_notice_comes_first_and_nothing_is_enforced_twice(
    fake_stripe: FakeStripe,
    webhook_endpoint: Endpoint,
    owner: User,
    smtp: tuple[RefusingSMTPServer, list[bool]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, notice_there = smtp
    sub_id = subscribe(fake_stripe, owner)
    (created,) = fake_stripe.events_of_type("customer.subscription.created")
    assert post_event(Client(), webhook_endpoint, created) == 200
    for n in range(3):
        PlatformConnection.objects.create(
            user=owner, kind="CUSTOM", name=f"Server {n}", include_in_stream=True
        )

    (deleted,) = fake_stripe.cancel_now(sub_id)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="billing.enforcement"):
        assert post_event(Client(), webhook_endpoint, deleted) == 200
        assert post_event(Client(), webhook_endpoint, deleted) == 200  # Stripe delivers it again

    assert row(owner).effective_plan == "FREE"
    assert server.attempts == 3  # refused, refused, accepted
    assert notice_there == [True, True, True]  # the notice was there before the first try
    assert len(server.messages) == 1
    assert "Subject: Your Prism plan is now Free" in server.messages[0]
    assert "2 destination(s) over the plan's limit were switched off" in server.messages[0]
    (job,) = PlanEnforcement.objects.filter(user=owner, change__to_plan="FREE")
    assert (job.state, job.attempts, job.last_error) == ("DONE", 2, "SMTPSenderRefused 554")
    enforced = [
        r for r in caplog.records if r.getMessage().startswith("Plan enforcer platforms.destinations")
    ]
    assert len(enforced) == 1
    assert Notice.objects.filter(user=owner).count() == 1
    assert PlatformConnection.objects.filter(user=owner, include_in_stream=True).count() == 1


def test_beat_requeues_an_enforcement_whose_task_was_lost_and_leaves_recent_ones_alone(owner: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Subscription, SubscriptionChange
    from billing.tasks import requeue_stuck_plan_enforcements

    subscription = Subscription.objects.create(user=owner, plan="FREE", status="CANCELED")
    for n in range(3):
        PlatformConnection.objects.create(
            user=owner, kind="CUSTOM", name=f"Server {n}", include_in_stream=True
        )

    def job() -> PlanEnforcement:
        change = SubscriptionChange.objects.create(
            subscription=subscription,
            from_plan="PRO",
            to_plan="FREE",
            from_status="ACTIVE",
            to_status="CANCELED",
        )
        return PlanEnforcement.objects.create(change=change, user=owner)

    lost, recent = job(), job()
    PlanEnforcement.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=11))
    assert requeue_stuck_plan_enforcements() == 1
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert (lost.state, recent.state) == ("DONE", "PENDING")
    assert PlatformConnection.objects.filter(user=owner, include_in_stream=True).count() == 1
