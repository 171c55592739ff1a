"""The two-person rule (issue 16): in an app whose policy asks for a second person, no path reaches
Batch without another person's approval or an audited break glass; requests expire; notifications."""

from __future__ import annotations

import http.server
import json
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audienceadmin import roles, services, wording
from audienceadmin.models import AuditEvent, BatchApp, BulkJob, DeletionRequest, Notification
from tests.conftest import confirmation_form, make_user

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind
State = DeletionRequest.State
AUDIENCE = "spring-sale"


def deletes(simulator) -> list[str]:
    return [r.path for r in simulator.requests if r.method == "DELETE"]


@pytest.fixture
def policy_app(batch_app, keyadmin):
    return services.app_update(
        actor=keyadmin,
        app=batch_app,
        name=batch_app.name,
        ip="127.0.0.1",
        approval_policy=BatchApp.ApprovalPolicy.SECOND_PERSON,
    )


@pytest.fixture
def approver(django_user_model, role_groups):
    return make_user(django_user_model, "bea", role_groups[roles.OPERATORS], email="bea@example.com")


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask_through_pages(client, app, name: str = AUDIENCE, reason: str = "campaign over") -> DeletionRequest:
    form = confirmation_form(client, app, name) | {"reason": reason}
    response = client.post(reverse("audience_delete_confirm"), form)
    asked = DeletionRequest.objects.latest("id")
    assert response.url == reverse("request_detail", args=[asked.pk])
    return asked


def test_the_policy_is_set_on_the_app_page_and_audited(keyadmin, batch_app):
    client = web(keyadmin)
    page = client.get(reverse("app_edit", args=[batch_app.pk])).content.decode()
    assert "A second person must approve every deletion" in page
    client.post(
        reverse("app_edit", args=[batch_app.pk]),
        {"name": batch_app.name, "approval_policy": BatchApp.ApprovalPolicy.SECOND_PERSON},
    )
    batch_app.refresh_from_db()
    assert batch_app.needs_approval
    event = AuditEvent.objects.get(kind=Kind.APP_POLICY_CHANGED)
    assert (event.actor, event.app, event.details) == (keyadmin, batch_app, {"approval_policy": "second_person"})
    client.post(reverse("app_edit", args=[batch_app.pk]), {"name": batch_app.name})  # left out: unchanged
    batch_app.refresh_from_db()
    assert batch_app.needs_approval and AuditEvent.objects.filter(kind=Kind.APP_POLICY_CHANGED).count() == 1


def test_operator_asks_another_approves_and_the_audience_is_deleted(
    operator, approver, policy_app, fast_client, simulator, app_keys
):
    operator.email = "otto@example.com"
    operator.save()
    requester = web(operator)
    asked = ask_through_pages(requester, policy_app)
    assert asked.state == State.PENDING and asked.audiences == [AUDIENCE] and asked.preview["exists"] is True
    assert deletes(simulator) == []  # nothing sent: a request
    page = requester.get(reverse("request_detail", args=[asked.pk])).content.decode()
    assert "Waiting for approval" in page and "Approve and delete now" not in page  # never their own
    # the approver sees it on their home page, in the navigation's count, on the Requests page
    other = web(approver)
    home = other.get(reverse("home")).content.decode()
    assert "Deletion requests waiting for you" in home and f"Request {asked.pk}" in home
    assert other.get(reverse("home")).context["requests_waiting"] == 1
    detail = other.get(reverse("request_detail", args=[asked.pk])).content.decode()
    assert "campaign over" in detail and "When asked" in detail and "Now" in detail
    assert other.post(reverse("request_approve", args=[asked.pk]), {"comment": "ok"}).status_code == 302
    asked.refresh_from_db()
    assert (asked.state, asked.outcome, asked.decided_by) == (State.EXECUTED, "deleted", approver)
    assert len(deletes(simulator)) == 1 and AUDIENCE not in simulator.audience_names(app_keys.api_key)
    # audited for both: the requester's attempt, the approver's approval and execution linked to it
    requested = AuditEvent.objects.get(kind=Kind.DELETE_REQUESTED)
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED)
    assert requested.actor == operator and requested.attempt == asked.attempt
    assert requested.details["decided_by"] == "bea" and requested.details["request"] == asked.pk
    executed = AuditEvent.objects.get(kind=Kind.REQUEST_EXECUTED)
    assert executed.actor == approver and executed.details["requested_by"] == "otto"
    assert (executed.details["requested_event"], executed.details["completed_event"]) == (requested.pk, completed.pk)
    kinds = list(AuditEvent.objects.filter(details__request=asked.pk).order_by("id").values_list("kind", flat=True))
    assert kinds == [Kind.REQUEST_CREATED, Kind.REQUEST_APPROVED, Kind.DELETE_REQUESTED, Kind.REQUEST_EXECUTED]
    # both see the outcome on the request page, and are told
    for client in (requester, other):
        assert "Approved and executed" in client.get(reverse("request_detail", args=[asked.pk])).content.decode()
    services.notifications_send()
    to = [(m.to, m.subject) for m in mail.outbox]
    assert (["bea@example.com"], f"[Audience Admin] Deletion request {asked.pk} waits for your approval: "
            f"{AUDIENCE} in {policy_app.name}") in to  # fmt: skip
    executed_mail = [m for m in mail.outbox if "executed" in m.subject]
    assert executed_mail and set(executed_mail[0].to) == {"otto@example.com", "bea@example.com"}
    assert "Outcome: Deleted" in executed_mail[0].body
    for message in mail.outbox:
        assert app_keys.api_key not in message.body and app_keys.rest_api_key not in message.body


def test_no_self_approval_even_as_superuser(django_user_model, approver, policy_app, fast_client, simulator):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    asked = ask_through_pages(web(root), policy_app)
    response = web(root).post(reverse("request_approve", args=[asked.pk]), follow=True)
    assert wording.NO_SELF_APPROVAL in response.content.decode()
    with pytest.raises(PermissionDenied, match="another person"):
        services.request_approve(actor=root, request=asked, ip=None)
    asked.refresh_from_db()
    assert asked.state == State.PENDING and deletes(simulator) == []
    assert AuditEvent.objects.filter(kind=Kind.PERMISSION_DENIED, actor=root).count() == 2


def test_an_approver_who_lost_the_permission_meanwhile_is_refused(
    operator, approver, policy_app, fast_client, simulator, role_groups
):
    asked = ask_through_pages(web(operator), policy_app)
    client = web(approver)
    assert "Approve and delete now" in client.get(reverse("request_detail", args=[asked.pk])).content.decode()
    approver.groups.clear()  # taken out of Operators after the page was shown
    with pytest.raises(PermissionDenied):
        services.request_approve(actor=approver, request=asked, ip=None)  # the cached copy of the user
    assert client.post(reverse("request_approve", args=[asked.pk])).status_code == 403
    asked.refresh_from_db()
    assert asked.state == State.PENDING and deletes(simulator) == []


def test_a_smaller_group_of_approvers(django_user_model, operator, approver, policy_app, fast_client, simulator):
    """An organisation takes the permission from Operators and gives it to a group of its own."""
    operators = Group.objects.get(name=roles.OPERATORS)
    operators.permissions.remove(operators.permissions.get(codename=roles.APPROVE_DELETION_CODENAME))
    asked = ask_through_pages(web(operator), policy_app)
    assert web(approver).post(reverse("request_approve", args=[asked.pk])).status_code == 403
    leads = Group.objects.create(name="Deletion approvers")
    leads.permissions.add(operators.permissions.model.objects.get(codename=roles.APPROVE_DELETION_CODENAME))
    lead = make_user(django_user_model, "lea", operators)
    lead.groups.add(leads)
    web(lead).post(reverse("request_approve", args=[asked.pk]))
    asked.refresh_from_db()
    assert asked.state == State.EXECUTED and len(deletes(simulator)) == 1


def test_reject_and_withdraw(operator, approver, policy_app, fast_client, simulator):
    asked = ask_through_pages(web(operator), policy_app)
    client = web(approver)
    no_comment = client.post(reverse("request_reject", args=[asked.pk]), follow=True)
    assert wording.COMMENT_REQUIRED in no_comment.content.decode()
    client.post(reverse("request_reject", args=[asked.pk]), {"comment": "wrong app"})
    asked.refresh_from_db()
    assert (asked.state, asked.comment) == (State.REJECTED, "wrong app")
    again = client.post(reverse("request_approve", args=[asked.pk]), follow=True).content.decode()
    assert "no longer waiting for a decision" in again
    second = ask_through_pages(web(operator), policy_app, reason="again")
    assert web(approver).post(reverse("request_withdraw", args=[second.pk])).status_code == 302
    second.refresh_from_db()
    assert second.state == State.PENDING  # only the requester withdraws
    web(operator).post(reverse("request_withdraw", args=[second.pk]))
    second.refresh_from_db()
    assert second.state == State.WITHDRAWN
    assert deletes(simulator) == []
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))
    assert {Kind.REQUEST_REJECTED, Kind.REQUEST_WITHDRAWN} <= kinds


def test_no_path_reaches_batch_without_approval(operator, approver, policy_app, fast_client, simulator, many):
    client = web(operator)
    # the confirmation without a reason: shown again, nothing asked, nothing sent
    form = confirmation_form(client, policy_app, AUDIENCE)
    refused = client.post(reverse("audience_delete_confirm"), form)
    assert refused.status_code == 400 and wording.REASON_REQUIRED in refused.content.decode()
    # the services themselves, whoever calls them
    with pytest.raises(services.ApprovalRequired):
        services.audience_delete(actor=operator, app=policy_app, name=AUDIENCE, ip=None)
    with pytest.raises(services.ApprovalRequired):
        services.audience_delete(actor=None, app=policy_app, name=AUDIENCE, ip=None, source="cli", actor_label="cli:x")
    with pytest.raises(services.ApprovalRequired):
        services.bulk_job_create(actor=operator, app=policy_app, names=many[:2])
    # a pending (not approved) request opens nothing
    asked = ask_through_pages(client, policy_app)
    with pytest.raises(services.ApprovalRequired):
        services.audience_delete(actor=operator, app=policy_app, name=AUDIENCE, ip=None, approval=asked)
    # the CLI: without --actor and --reason it refuses; nothing is ever sent
    with pytest.raises(CommandError, match="second person"):
        call_command("delete_audience", "--app", policy_app.name, AUDIENCE)
    assert deletes(simulator) == []
    assert AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_without_an_approved_request_is_refused_by_its_run(operator, policy_app, batch_url, simulator):
    """A job created behind the services' back (or queued before the policy was set) sends nothing."""
    job = BulkJob.objects.create(app=policy_app, created_by=operator, concurrency=1)
    job.items.create(position=0, audience=AUDIENCE)
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")  # nothing queued: idle
    from audienceadmin import bulk_runner

    bulk_runner.bulk_job_run(job.pk)
    item = job.items.get()
    assert item.state == "skipped" and "second person" in item.message
    assert deletes(simulator) == []


@pytest.mark.django_db(transaction=True)
def test_bulk_request_becomes_a_bulk_job_once_approved(operator, approver, policy_app, fast_client, simulator, many):
    client = web(operator)
    names = "\n".join(many[:5])
    review = client.post(reverse("bulk_new"), {"app": policy_app.pk, "names": names}).content.decode()
    assert "A second person must approve this deletion" in review and "Ask for approval" in review
    no_reason = client.post(reverse("bulk_confirm"), {"app": policy_app.pk, "names": names, "count": 5})
    assert no_reason.status_code == 400 and not BulkJob.objects.exists()
    client.post(reverse("bulk_confirm"), {"app": policy_app.pk, "names": names, "count": 5, "reason": "cleanup"})
    asked = DeletionRequest.objects.get()
    assert asked.bulk and asked.audiences == many[:5] and not BulkJob.objects.exists()
    web(approver).post(reverse("request_approve", args=[asked.pk]))
    asked.refresh_from_db()
    assert asked.state == State.EXECUTED and asked.bulk_job is not None
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")
    asked.bulk_job.refresh_from_db()
    assert asked.bulk_job.state == BulkJob.State.DONE and len(deletes(simulator)) == 5
    assert AuditEvent.objects.get(kind=Kind.REQUEST_EXECUTED).details["job"] == asked.bulk_job.pk
    asked.refresh_from_db()
    assert asked.outcome_message == "bulk job finished: 5 of 5 deleted"
    services.notifications_send()
    finished = [m for m in mail.outbox if "finished" in m.subject]
    assert finished and "bulk job finished: 5 of 5 deleted" in finished[0].body
    assert "5 of 5 deleted" in web(operator).get(reverse("request_detail", args=[asked.pk])).content.decode()


def test_cli_asks_and_another_person_approves(operator, approver, policy_app, fast_client, simulator, capsys):
    with pytest.raises(CommandError) as asked_exit:
        call_command("delete_audience", "--app", policy_app.name, "--actor", "otto", "--reason", "gdpr", AUDIENCE)
    assert asked_exit.value.returncode == 3 and deletes(simulator) == []
    asked = DeletionRequest.objects.get()
    assert asked.source == "cli"
    with pytest.raises(CommandError, match="another person"):
        call_command("approve_request", str(asked.pk), "--actor", "otto")
    assert deletes(simulator) == []
    call_command("approve_request", str(asked.pk), "--actor", "bea")
    asked.refresh_from_db()
    assert asked.outcome == "deleted" and len(deletes(simulator)) == 1


def test_expired_requests_are_closed_and_never_executed(operator, approver, policy_app, fast_client, simulator):
    asked = ask_through_pages(web(operator), policy_app)
    DeletionRequest.objects.filter(pk=asked.pk).update(expires_at=asked.created_at - timedelta(seconds=1))
    # at decision time: refused, and closed as expired
    response = web(approver).post(reverse("request_approve", args=[asked.pk]), follow=True)
    assert wording.REQUEST_EXPIRED in response.content.decode()
    asked.refresh_from_db()
    assert asked.state == State.EXPIRED and deletes(simulator) == []
    # by the janitor
    later = ask_through_pages(web(operator), policy_app, reason="again")
    assert services.requests_expire() == 0
    DeletionRequest.objects.filter(pk=later.pk).update(expires_at=later.created_at)
    assert services.requests_expire() == 1
    later.refresh_from_db()
    assert later.state == State.EXPIRED and AuditEvent.objects.filter(kind=Kind.REQUEST_EXPIRED).count() == 2
    # an approval that expired before it was sent is refused by the gate itself
    third = ask_through_pages(web(operator), policy_app, reason="third")
    DeletionRequest.objects.filter(pk=third.pk).update(state=State.APPROVED, expires_at=third.created_at)
    with pytest.raises(services.ApprovalRequired, match="expired"):
        services.audience_delete(actor=operator, app=policy_app, name=AUDIENCE, ip=None, approval=third)
    assert deletes(simulator) == []


def test_break_glass_by_a_superuser_only_and_shown(django_user_model, operator, policy_app, fast_client, simulator):
    asked = ask_through_pages(web(operator), policy_app)
    with pytest.raises(PermissionDenied):
        services.request_break_glass(actor=operator, request=asked, ip=None, reason="urgent")
    root = django_user_model.objects.create_superuser("root", "", "x")
    client = web(root)
    assert "Break glass" in client.get(reverse("request_detail", args=[asked.pk])).content.decode()
    no_reason = client.post(reverse("request_break_glass", args=[asked.pk]), follow=True)
    assert wording.BREAK_GLASS_REASON_REQUIRED in no_reason.content.decode()
    client.post(reverse("request_break_glass", args=[asked.pk]), {"comment": "live incident"})
    asked.refresh_from_db()
    assert (asked.state, asked.outcome) == (State.BREAK_GLASS, "deleted") and len(deletes(simulator)) == 1
    glass = AuditEvent.objects.get(kind=Kind.BREAK_GLASS)
    assert glass.actor == root and "live incident" in glass.message
    history = client.get(reverse("history"), {"view": "requests"}).content.decode()
    assert '<strong class="break-glass">BREAK GLASS: executed without approval</strong>' in history
    assert "BREAK GLASS" in client.get(reverse("request_detail", args=[asked.pk])).content.decode()


class Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(Receiver.answers.pop(0) if Receiver.answers else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_webhook_is_retried_and_never_blocks_the_request(
    operator, approver, policy_app, fast_client, simulator, settings, app_keys
):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.answers, Receiver.received = [500], []
    try:
        settings.APPROVAL_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
        asked = ask_through_pages(web(operator), policy_app)  # the webhook fails later: the request stands
        hook = Notification.objects.get(channel=Notification.Channel.WEBHOOK)
        assert services.notifications_send() == 1  # the e-mail; the webhook got a 500
        hook.refresh_from_db()
        assert (hook.sent_at, hook.tries, hook.last_error) == (None, 1, "HTTPError 500")
        Notification.objects.filter(pk=hook.pk).update(next_try_at=hook.created_at)  # its retry is due
        assert services.notifications_send() == 1
        hook.refresh_from_db()
        assert hook.sent_at is not None
        assert [r["request"] for r in Receiver.received] == [asked.pk, asked.pk]
        assert Receiver.received[1]["app"] == policy_app.name and Receiver.received[1]["audiences"] == [AUDIENCE]
        assert app_keys.api_key not in json.dumps(Receiver.received)
        # nowhere to send to: tried, given up after NOTIFICATION_MAX_TRIES, the request unaffected
        settings.APPROVAL_WEBHOOK_URL = "http://127.0.0.1:9/closed"
        settings.NOTIFICATION_MAX_TRIES = 1
        web(approver).post(reverse("request_approve", args=[asked.pk]))
        services.notifications_send()
        failed = Notification.objects.filter(channel=Notification.Channel.WEBHOOK, failed_at__isnull=False)
        assert failed.count() == 2  # approved, executed
        asked.refresh_from_db()
        assert asked.outcome == "deleted"
    finally:
        server.shutdown()


@pytest.mark.django_db(transaction=True)
def test_two_approvers_clicking_at_once_execute_once(
    django_user_model, role_groups, operator, policy_app, batch_url, simulator
):
    """Real concurrent requests to the views (threads, each with its own connection): on PostgreSQL
    the request's row lock decides, on SQLite the write lock; one DELETE reaches Batch either way."""
    simulator.add_fault(action="delay", latency=0.3, audience=AUDIENCE, method="DELETE")
    asked = ask_through_pages(web(operator), policy_app)
    approvers = [make_user(django_user_model, f"appr{n}", role_groups[roles.OPERATORS]) for n in range(3)]
    barrier = threading.Barrier(len(approvers))
    answers: list[int] = []

    def approve(user) -> None:
        client = web(user)
        barrier.wait()
        try:
            answers.append(client.post(reverse("request_approve", args=[asked.pk])).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert answers == [302, 302, 302]
    assert len(deletes(simulator)) == 1
    assert AuditEvent.objects.filter(kind=Kind.REQUEST_APPROVED).count() == 1
    assert AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).count() == 1
    asked.refresh_from_db()
    assert asked.state == State.EXECUTED and asked.outcome == "deleted"


def test_a_restricted_apps_requests_stay_out_of_other_operators_sight(
    django_user_model, role_groups, operator, approver, keyadmin, policy_app, fast_client, simulator
):
    olga = make_user(django_user_model, "olga", role_groups[roles.OPERATORS])
    services.app_update(
        actor=keyadmin, app=policy_app, name=policy_app.name, ip=None, allowed_operators=[operator, approver]
    )
    asked = ask_through_pages(web(operator), policy_app)
    outsider = web(olga)
    assert outsider.get(reverse("request_detail", args=[asked.pk])).status_code == 404
    assert outsider.post(reverse("request_approve", args=[asked.pk])).status_code == 404
    assert f"Request {asked.pk}" not in outsider.get(reverse("request_list")).content.decode()
    with pytest.raises(PermissionDenied):  # the service refuses her too: not an operator of the app
        services.request_approve(actor=olga, request=asked, ip=None)
    assert deletes(simulator) == []
    # each step's event opens in the history, for those who may read the app's events
    web(approver).post(reverse("request_approve", args=[asked.pk]))
    reader = web(approver)
    for event in AuditEvent.objects.filter(details__request=asked.pk):
        assert reader.get(reverse("history_event", args=[event.pk])).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_workers_janitor_expires_requests_and_sends_notifications(
    operator, approver, policy_app, batch_url, simulator, settings
):
    """`manage.py worker`'s janitor thread, as it runs: nothing waits for a page view."""
    from audienceadmin.management.commands import worker

    settings.BULK_LEASE_SECONDS = 1.2  # the janitor wakes every twelfth of it
    operator.email = "otto@example.com"
    operator.save()
    asked = ask_through_pages(web(operator), policy_app)
    DeletionRequest.objects.filter(pk=asked.pk).update(expires_at=asked.created_at)
    stop = threading.Event()
    thread = threading.Thread(target=worker.janitor, args=(stop,), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            asked.refresh_from_db()
            if asked.state == State.EXPIRED and len(mail.outbox) >= 2:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert asked.state == State.EXPIRED
    subjects = [m.subject for m in mail.outbox]
    assert any("waits for your approval" in s for s in subjects) and any("expired" in s for s in subjects)
    assert deletes(simulator) == []


@pytest.mark.django_db(transaction=True)
def test_a_direct_post_to_every_url_reaches_batch_with_no_approval(
    operator, keyadmin, policy_app, batch_url, simulator, many
):
    """Every URL of the project, POSTed a form that would delete (a valid ticket, the name typed, a
    count, a reason, a comment), by the requester and by a key administrator: no DELETE reaches Batch,
    and the background worker, run afterwards, sends none either."""
    from django.urls import URLPattern, get_resolver

    asked = ask_through_pages(web(operator), policy_app)
    job = BulkJob.objects.create(app=policy_app, created_by=operator, concurrency=1)
    job.items.create(position=0, audience="old-00")
    ids = {"bulk/": job.pk, "requests/": asked.pk, "people/": operator.pk}
    for user in (operator, keyadmin):
        client = web(user)
        ticket = confirmation_form(client, policy_app, AUDIENCE)["ticket"] if user == operator else ""
        data = {
            "app": policy_app.pk, "name": AUDIENCE, "confirm_name": AUDIENCE, "ticket": ticket, "names": AUDIENCE,
            "picked": AUDIENCE, "count": 1, "reason": "direct", "comment": "direct", "approval_policy": "none",
        }  # fmt: skip
        for entry in get_resolver().url_patterns:
            if not isinstance(entry, URLPattern) or not entry.name or "(?P" in str(entry.pattern):
                continue
            route = str(entry.pattern)
            if entry.name in ("app_edit", "app_archive") or route.startswith("people/"):
                continue  # changes the policy or people: not a way to delete (their permissions: test_security)
            pk = next((v for prefix, v in ids.items() if route.startswith(prefix)), policy_app.pk)
            url = reverse(entry.name, args=[pk] if "<int:pk>" in route else [])
            client.post(url, data)
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")
    from audienceadmin import bulk_runner

    bulk_runner.bulk_job_run(job.pk)
    assert deletes(simulator) == []
    asked.refresh_from_db()
    assert asked.state in (State.PENDING, State.WITHDRAWN)  # the requester may withdraw, nothing else
    assert not AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).exists()


def test_approving_and_breaking_the_glass_need_a_recent_sign_in(
    django_user_model, operator, approver, policy_app, fast_client, simulator, sign_in_policies
):
    sign_in_policies.MFA_REQUIRED = False
    asked = DeletionRequest.objects.create(
        app=policy_app, requested_by=operator, created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1), reason="stale session", audiences=[AUDIENCE],
    )  # fmt: skip
    root = django_user_model.objects.create_superuser("root", "", "x")
    for user, url in ((approver, "request_approve"), (root, "request_break_glass")):
        response = web(user).post(reverse(url, args=[asked.pk]), {"comment": "now"})  # force_login: no sign-in record
        assert response.url.startswith(reverse("account_reauthenticate"))
    asked.refresh_from_db()
    assert asked.state == State.PENDING and deletes(simulator) == []


@pytest.mark.parametrize("chosen", ["1.0", "1.1"])
def test_an_approved_request_deletes_through_the_api_version_the_requester_confirmed(
    operator, approver, policy_app, fast_client, simulator, app_keys, chosen
):
    """Found only in 1.0, the request is sent to /1.0/; found in both, to the version the requester chose."""
    name = "crm-members" if chosen == "1.0" else "beta"
    simulator.add_audience(app_keys.api_key, name, version="1.0")
    client = web(operator)
    form = confirmation_form(client, policy_app, name) | {"reason": "campaign over", "api_version": chosen}
    client.post(reverse("audience_delete_confirm"), form)
    asked = DeletionRequest.objects.latest("id")
    assert asked.preview["delete_version"] == chosen and deletes(simulator) == []

    services.request_approve(actor=approver, request=asked, ip=None)

    assert deletes(simulator) == [f"/{chosen}/{app_keys.api_key}/custom-audience/{name}"]
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED)
    assert (completed.outcome, completed.details["version"]) == ("deleted", chosen)
