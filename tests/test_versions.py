"""An MEP app's audience is deleted through the Custom Audience API version that holds it: 1.1
(install IDs) or 1.0 (custom user IDs, advertising IDs); where Batch cannot say, the operator chooses."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from audienceadmin.models import AuditEvent
from tests.conftest import confirmation_form

pytestmark = pytest.mark.django_db
Outcome = AuditEvent.Outcome


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def deletes(simulator) -> list[str]:
    return [r.path.split("/")[1] for r in simulator.requests if r.method == "DELETE"]


def confirm(client, app, name, **extra):
    form = confirmation_form(client, app, name) | extra
    return client.post(reverse("audience_delete_confirm"), form, follow=True)


def test_only_in_1_1(operator, batch_app, fast_client, simulator):
    client = signed_in(operator)
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert "install IDs, Custom Audience API 1.1" in page and 'name="api_version"' not in page
    confirm(client, batch_app, "beta")
    assert deletes(simulator) == ["1.1"]


def test_only_in_1_0_is_deleted_through_1_0_and_the_audit_says_so(
    operator, batch_app, fast_client, simulator, app_keys
):
    simulator.add_audience(app_keys.api_key, "loyal-users", version="1.0", nb_ids=12)
    client = signed_in(operator)
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "loyal-users"}).content.decode()
    assert "custom user IDs, API 1.0" in page

    response = confirm(client, batch_app, "loyal-users")

    assert deletes(simulator) == ["1.0"]
    assert simulator.audience_names(app_keys.api_key, "1.0") == []
    requested, completed = AuditEvent.objects.filter(audience="loyal-users").order_by("id")
    assert completed.outcome == Outcome.DELETED
    assert completed.details == {"api": "mep", "version": "1.0"}
    assert (requested.details["api"], requested.details["version"]) == ("mep", "1.0")
    assert "Custom Audience API 1.0" in " ".join(str(m) for m in response.context["messages"])


def test_in_both_the_operator_chooses(operator, batch_app, fast_client, simulator, app_keys):
    simulator.add_audience(app_keys.api_key, "beta", version="1.0")
    client = signed_in(operator)
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert 'name="api_version"' in page and "in both 1.1 and 1.0" in page

    confirm(client, batch_app, "beta", api_version="1.0")

    assert deletes(simulator) == ["1.0"]
    assert "beta" in simulator.audience_names(app_keys.api_key, "1.1")


def test_in_both_the_default_choice_is_1_1(operator, batch_app, fast_client, simulator, app_keys):
    simulator.add_audience(app_keys.api_key, "beta", version="1.0")
    confirm(signed_in(operator), batch_app, "beta", api_version="1.1")
    assert deletes(simulator) == ["1.1"]
    assert "beta" in simulator.audience_names(app_keys.api_key, "1.0")


def test_when_the_preview_failed_the_operator_chooses(operator, batch_app, fast_client, simulator, app_keys):
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", method="GET", path="/1.0/")
    client = signed_in(operator)
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert 'name="api_version"' in page and "Could not check both API versions" in page
    confirm(client, batch_app, "beta", api_version="1.1")
    assert deletes(simulator) == ["1.1"]


def test_a_choice_is_ignored_where_the_preview_was_sure(operator, batch_app, fast_client, simulator):
    confirm(signed_in(operator), batch_app, "beta", api_version="1.0")  # a forged field: beta is only in 1.1
    assert deletes(simulator) == ["1.1"]


def cli(*args: str) -> str:
    out = StringIO()
    call_command("delete_audience", *args, stdout=out)
    return out.getvalue()


def test_the_cli_resolves_like_the_web(batch_app, fast_client, simulator, app_keys):
    simulator.add_audience(app_keys.api_key, "loyal-users", version="1.0")
    cli("--app", batch_app.name, "loyal-users")
    assert deletes(simulator) == ["1.0"]
    assert AuditEvent.objects.get(kind="delete_completed").details["version"] == "1.0"


def test_the_cli_exits_2_when_the_name_is_in_both(batch_app, fast_client, simulator, app_keys):
    simulator.add_audience(app_keys.api_key, "beta", version="1.0")
    with pytest.raises(CommandError, match="--api-version") as excinfo:
        cli("--app", batch_app.name, "beta")
    assert excinfo.value.returncode == 2 and deletes(simulator) == []
    cli("--app", batch_app.name, "--api-version", "1.0", "beta")
    assert deletes(simulator) == ["1.0"]


def test_the_cli_exits_2_when_one_version_could_not_be_asked(batch_app, fast_client, simulator):
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", method="GET", path="/1.0/")
    with pytest.raises(CommandError) as excinfo:
        cli("--app", batch_app.name, "beta")
    assert excinfo.value.returncode == 2 and deletes(simulator) == []


@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_resolves_each_items_version(operator, batch_app, fast_client, simulator, app_keys):
    from audienceadmin import bulk_runner, services
    from audienceadmin.models import BulkItem

    simulator.add_audience(app_keys.api_key, "loyal-users", version="1.0")
    simulator.add_audience(app_keys.api_key, "beta", version="1.0")  # also in 1.1
    job = services.bulk_job_create(actor=operator, app=batch_app, names=["spring-sale", "loyal-users", "beta"])

    bulk_runner.bulk_job_run(job.pk)

    done = {i.audience: i for i in BulkItem.objects.filter(job=job)}
    assert done["spring-sale"].outcome == done["loyal-users"].outcome == Outcome.DELETED
    assert done["beta"].state == BulkItem.State.SKIPPED and "both" in done["beta"].message
    assert sorted(deletes(simulator)) == ["1.0", "1.1"]
    assert simulator.audience_names(app_keys.api_key, "1.0") == ["beta"]
    versions = {e.audience: e.details["version"] for e in AuditEvent.objects.filter(kind="delete_completed")}
    assert versions == {"spring-sale": "1.1", "loyal-users": "1.0"}


@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_in_an_app_using_only_1_1_looks_nothing_up(operator, batch_app, fast_client, simulator):
    from audienceadmin import bulk_runner, services

    job = services.bulk_job_create(actor=operator, app=batch_app, names=["spring-sale", "beta"])
    bulk_runner.bulk_job_run(job.pk)
    gets = [r for r in simulator.requests if r.method == "GET"]
    assert len(gets) == 2 and all(r.path.endswith("/custom-audience") for r in gets)  # one list per version
    assert deletes(simulator) == ["1.1", "1.1"]


def test_the_browser_lists_both_versions_with_a_column_saying_which(
    operator, batch_app, fast_client, simulator, app_keys
):
    simulator.add_audience(app_keys.api_key, "loyal-users", version="1.0")
    page = signed_in(operator).get(reverse("audience_browse", args=[batch_app.pk]))
    rows = {a["name"]: a["api_version"] for a in page.context["listing"].audiences}
    assert rows == {"spring-sale": "1.1", "churned_q3": "1.1", "beta": "1.1", "loyal-users": "1.0"}
    html = page.content.decode()
    assert '<th scope="col">API</th>' in html and '<td data-label="API">API 1.0</td>' in html
