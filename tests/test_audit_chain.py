"""The audit trail is tamper-evident: every kind of tampering is found, and the database refuses changes."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from audienceadmin import audit, services
from audienceadmin.models import AuditEvent, AuditVerification

pytestmark = pytest.mark.django_db
TABLE = audit.TABLE


def add_events(n: int, keyadmin) -> list[int]:
    for i in range(n):
        services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, username=f"user{i}", ip="10.0.0.1")
    return list(AuditEvent.objects.order_by("id").values_list("id", flat=True))


def verify(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit_log", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


@contextmanager
def triggers_lifted():
    """What an attacker with database access would do first."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks: ALTER needs that
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        else:
            for sql in audit.DROP_TRIGGERS_SQL["sqlite"]:
                cursor.execute(sql)
    try:
        yield connection.cursor()
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
            else:
                for sql in audit.TRIGGERS_SQL["sqlite"]:
                    cursor.execute(sql)


def move(cursor, old_id: int, new_id: int) -> None:
    cursor.execute(f"UPDATE {TABLE} SET id = %s WHERE id = %s", [new_id, old_id])  # noqa: S608


def test_an_intact_chain_verifies_and_prints_its_head(keyadmin):
    ids = add_events(5, keyadmin)
    code, out = verify()
    head = AuditEvent.objects.get(id=ids[-1]).mac
    assert code == 0
    assert "events: 5" in out and f"head: {head}" in out and "intact" in out
    assert verify("--expect-head", head)[0] == 0
    add_events(2, keyadmin)
    assert verify("--expect-head", head)[0] == 0  # an older head is still part of the chain
    last = AuditVerification.objects.latest()
    assert (last.ok, last.events) == (True, 7)


def test_every_event_links_to_the_one_before(keyadmin):
    add_events(4, keyadmin)
    rows = list(AuditEvent.objects.order_by("id").values_list("prev_mac", "mac"))
    assert rows[0][0] == audit.GENESIS
    assert all(rows[i][0] == rows[i - 1][1] for i in range(1, len(rows)))


def test_the_database_refuses_update_and_delete(keyadmin):
    [first, *_] = add_events(2, keyadmin)
    for sql in (f"UPDATE {TABLE} SET message = 'x' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"):  # noqa: S608
        with pytest.raises(DatabaseError, match="insert-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [first])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="insert-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {TABLE} CASCADE")
    assert AuditEvent.objects.count() == 2


def test_a_modified_event_is_found(keyadmin):
    ids = add_events(6, keyadmin)
    with triggers_lifted() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_username = 'someone-else' WHERE id = %s", [ids[2]])  # noqa: S608
    code, out = verify()
    assert code == 1
    assert f"event {ids[2]} was modified" in out


def test_a_removed_event_is_found(keyadmin):
    ids = add_events(6, keyadmin)
    with triggers_lifted() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [ids[3]])  # noqa: S608
    code, out = verify()
    assert code == 1
    assert f"events between event {ids[2]} and event {ids[4]} were removed" in out


def test_an_inserted_event_is_found(keyadmin):
    ids = add_events(6, keyadmin)
    with triggers_lifted() as cursor:
        for old in reversed(ids[3:]):  # make room after the third event
            move(cursor, old, old + 1)
        cursor.execute(
            f"INSERT INTO {TABLE} (id, at, kind, source, actor_username, app_name, audience, outcome, "  # noqa: S608
            "error_name, error_code, message, details, prev_mac, mac, key_id) "
            "SELECT %s, at, kind, source, 'forged', app_name, audience, outcome, error_name, error_code, message, "
            f"details, mac, %s, key_id FROM {TABLE} WHERE id = %s",
            [ids[3], "f" * 64, ids[2]],
        )
    code, out = verify()
    assert code == 1
    assert f"event {ids[3]} was inserted" in out


def test_reordered_events_are_found(keyadmin):
    ids = add_events(6, keyadmin)
    with triggers_lifted() as cursor:
        move(cursor, ids[3], 10_000)
        move(cursor, ids[2], ids[3])
        move(cursor, 10_000, ids[2])
    code, out = verify()
    assert code == 1
    assert f"event {ids[2]} is out of order" in out


def test_a_truncated_tail_is_found_with_the_recorded_head(keyadmin):
    ids = add_events(6, keyadmin)
    head = verify()[1].split("head: ")[1].split()[0]
    with triggers_lifted() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id >= %s", [ids[4]])  # noqa: S608
    assert verify()[0] == 0  # the rest is a valid chain: only the recorded head can tell
    code, out = verify("--expect-head", head)
    assert code == 1
    assert "events at the end were removed" in out
    assert AuditVerification.objects.latest().ok is False


def test_rotating_the_audit_key_keeps_old_events_verifiable(keyadmin, settings):
    add_events(3, keyadmin)
    old = settings.AUDIT_HMAC_KEYS[0]
    settings.AUDIT_HMAC_KEYS = ["a-brand-new-audit-key-0123456789", old]
    add_events(3, keyadmin)
    assert len(set(AuditEvent.objects.values_list("key_id", flat=True))) == 2
    assert verify()[0] == 0
    settings.AUDIT_HMAC_KEYS = ["a-brand-new-audit-key-0123456789"]
    code, out = verify()
    assert code == 1 and "not in AUDIT_HMAC_KEYS" in out


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(keyadmin):
    errors = []

    def write(n: int) -> None:
        try:
            for i in range(15):
                services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, username=f"t{n}-{i}", ip=None)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    prev_macs = list(AuditEvent.objects.values_list("prev_mac", flat=True))
    assert len(prev_macs) == 6 * 15
    assert len(set(prev_macs)) == len(prev_macs)  # no two events claim the same predecessor
    assert verify()[0] == 0


def test_the_history_page_shows_the_last_verification(viewer, keyadmin):
    add_events(2, keyadmin)
    client = Client()
    client.force_login(viewer)
    assert "has not been verified yet" in client.get(reverse("history")).content.decode()
    verify()
    html = client.get(reverse("history")).content.decode()
    assert "Audit chain verified" in html and "intact" in html
