from __future__ import annotations

import os
import pwd
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from audienceadmin import roles, services
from audienceadmin.models import AuditEvent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("delete_audience", *args, stdout=out)
    return out.getvalue()


def test_cli_deletes_and_audits_like_the_web(operator, batch_app, fast_client, simulator, app_keys):
    output = run("--app", "Shop iOS", "--actor", "otto", "beta")
    assert "Audience “beta” was deleted from app “Shop iOS”." in output
    assert "beta" not in simulator.audience_names(app_keys.api_key)
    requested, completed = AuditEvent.objects.filter(audience="beta").order_by("id")
    assert (requested.source, requested.actor, completed.outcome) == ("cli", operator, "deleted")


REAL_OS_USER = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def forged_login_name(monkeypatch):
    """The environment names someone else: only the process's real uid says who runs the command."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(variable, "mallory")


def test_cli_without_actor_records_the_os_user_of_the_process(batch_app, fast_client, forged_login_name):
    run("--app", "Shop iOS", "beta")
    requested = AuditEvent.objects.filter(audience="beta").order_by("id").first()
    assert requested.actor_username == f"cli:{REAL_OS_USER}" and requested.actor is None
    assert requested.details == {"cli_os_user": REAL_OS_USER, "api": "mep", "version": "1.1"}


def test_cli_on_behalf_of_a_user_records_who_ran_it_too(operator, viewer, batch_app, fast_client, forged_login_name):
    run("--app", "Shop iOS", "--actor", "otto", "beta")
    requested, completed = AuditEvent.objects.filter(audience="beta").order_by("id")
    assert (requested.actor, requested.actor_username, completed.actor_username) == (operator, "otto", "otto")
    assert requested.details == {"cli_os_user": REAL_OS_USER, "on_behalf_of": "otto", "api": "mep", "version": "1.1"}
    # the history says it, in the list and on the event's page
    client = Client()
    client.force_login(viewer)
    origin = f"command line, run by OS user {REAL_OS_USER}, on behalf of otto"
    assert origin in client.get(reverse("history")).content.decode()
    assert origin in client.get(reverse("history_event", args=[requested.pk])).content.decode()
    assert "mallory" not in client.get(reverse("history")).content.decode()


def test_cli_tells_an_operator_that_the_app_is_restricted_to_others(
    django_user_model, role_groups, operator, keyadmin, batch_app, simulator
):
    olga = make_user(django_user_model, "olga", role_groups[roles.OPERATORS])
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, ip=None, allowed_operators=[olga])
    with pytest.raises(CommandError) as excinfo:
        run("--app", "Shop iOS", "--actor", "otto", "beta")
    assert excinfo.value.returncode == 2
    assert "restricted to other operators" in str(excinfo.value) and "Operators role" not in str(excinfo.value)
    assert simulator.requests == []


def test_cli_exits_1_when_batch_does_not_delete(batch_app, fast_client, simulator):
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR")
    with pytest.raises(CommandError) as excinfo:
        run("--app", "Shop iOS", "beta")
    assert excinfo.value.returncode == 1
    assert "maintenance" in str(excinfo.value)
    assert AuditEvent.objects.filter(outcome="failed").count() == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--app", "Shop iOS", "bad name"], "Invalid audience name"),
        (["--app", "No such app", "beta"], "No app named"),
        (["--app", "Shop iOS", "--actor", "nobody", "beta"], "No active user"),
        (["--app", "Shop iOS", "--actor", "vera", "beta"], "may not delete audiences \\(needs the Operators role"),
    ],
)
def test_cli_exits_2_on_bad_input_without_calling_batch(viewer, batch_app, simulator, args, words):
    with pytest.raises(CommandError, match=words) as excinfo:
        run(*args)
    assert excinfo.value.returncode == 2
    assert simulator.requests == []
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_REQUESTED).exists()


def test_cli_usage_errors_exit_2():
    proc = subprocess.run(
        [sys.executable, "manage.py", "delete_audience", "beta"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "--app" in proc.stderr


def test_the_roles_exist_after_migrating():
    perms = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert perms == {name: set(codenames) for name, codenames in roles.ROLES.items()}


def test_ensure_admin_creates_a_first_superuser_once(django_user_model):
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "password:" in out.getvalue()
    assert django_user_model.objects.get(username="admin").is_superuser
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert out.getvalue() == ""
    assert django_user_model.objects.count() == 1
