from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from audienceadmin import roles
from audienceadmin.models import AuditEvent

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


def test_cli_without_actor_records_the_os_user(batch_app, fast_client):
    run("--app", "Shop iOS", "beta")
    assert AuditEvent.objects.filter(audience="beta").first().actor_username.startswith("cli:")


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
        (["--app", "Shop iOS", "--actor", "vera", "beta"], "may not delete"),
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
