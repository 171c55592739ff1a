"""The bulk review: a CSV's header row is never an audience, every name is shown, and the names Batch
does not have are found from the app's full list (read a hundred at a time) and never sent."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audienceadmin import names, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(operator, batch_url):
    client = Client()
    client.force_login(operator)
    return client


def _hidden_names(html: str) -> list[str]:
    match = re.search(r'name="names" value="([^"]*)"', html)
    assert match, "no confirmation form"
    return [n for n in match.group(1).replace("&#x27;", "'").split("\n") if n]


def _upload(web, app, filename: str, body: bytes) -> str:
    upload = SimpleUploadedFile(filename, body, content_type="text/csv")
    return web.post(reverse("bulk_new"), {"app": app.pk, "names": "", "file": upload}).content.decode()


def test_a_header_line_is_a_column_title_not_an_audience():
    for text in ("name\nbeta\nspring-sale", "Audience\nbeta\nspring-sale", "audience_name\r\nbeta\r\nspring-sale"):
        report = names.bulk_names_check(text, detect_header=True)
        assert report.valid == ["beta", "spring-sale"] and report.header
    # a list without a header keeps its first name
    assert names.bulk_names_check("beta\nname", detect_header=True).valid == ["beta", "name"]


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_csv_header_is_never_sent(web, batch_app, simulator, app_keys, fast_client):
    simulator.add_audience(app_keys.api_key, "name")  # even when an audience happens to be called "name"
    html = _upload(web, batch_app, "export.csv", b"name\r\nbeta\r\nspring-sale\r\n")
    assert "Delete 2 audiences" in html
    assert "“name”, is a column title: it was skipped" in html
    assert _hidden_names(html) == ["beta", "spring-sale"]
    web.post(reverse("bulk_confirm"), {"app": batch_app.pk, "names": "beta\nspring-sale", "count": 2})
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")
    deleted = [r.path.rsplit("/", 1)[-1] for r in simulator.requests if r.method == "DELETE"]
    assert sorted(deleted) == ["beta", "spring-sale"]
    assert "name" in simulator.audience_names(app_keys.api_key)


def test_a_csv_of_several_columns_takes_the_names_column_and_says_which(web, batch_app):
    body = b"created,audience_name,nb_ids\r\n2024-01-02,beta,10\r\n2024-01-03,churned_q3,3\r\n"
    html = _upload(web, batch_app, "audiences.csv", body)
    assert "the names were taken from column 2 (“audience_name”)" in html
    assert _hidden_names(html) == ["beta", "churned_q3"]
    assert "2024-01-02" not in _hidden_names(html)
    # semicolons, no known title: the column whose values are names (not dates with spaces, not numbers)
    body = b"Created at;Name of it;IDs\r\n2024-01-02 10:00;beta;10\r\n2024-01-03 11:00;spring-sale;3\r\n"
    html = _upload(web, batch_app, "other.csv", body)
    assert "column 2 (“Name of it”)" in html and _hidden_names(html) == ["beta", "spring-sale"]


def test_the_review_shows_every_name_collapsed_when_long_with_a_search(web, batch_app, simulator, app_keys):
    many = [f"aud-{i:03d}" for i in range(120)]
    for name in many:
        simulator.add_audience(app_keys.api_key, name)
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "\n".join(many)}).content.decode()
    shown = re.findall(r"<li><code>(aud-\d{3})</code>", html)
    assert shown == many  # every name, before the count is typed
    assert '<details class="review-names">' in html  # collapsed: 120 names
    assert 'type="search" id="name-filter"' in html and "audienceadmin/forms.js" in html
    short = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "beta"}).content.decode()
    assert '<details class="review-names" open>' in short


def test_the_review_checks_existence_from_the_full_list_page_by_page(web, batch_app, simulator, app_keys):
    for i in range(250):
        simulator.add_audience(app_keys.api_key, f"aud-{i:03d}", nb_ids=1000 + i)
    simulator.clear_requests()
    wanted = ["aud-000", "aud-249", "beta", "gone-1", "aud-120", "gone-2"]
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "\n".join(wanted)}).content.decode()

    lists = [r for r in simulator.requests if r.method == "GET"]
    # 253 audiences, 100 a call (and 1.0's empty list): not one call per name
    assert len(simulator.requests) == len(lists) == 4
    assert "Delete 4 audiences" in html
    assert "<strong>4</strong> exist in Batch and will be deleted: <strong>3,369</strong> IDs in all" in html
    assert "<strong>2</strong> are not in Batch and will not be sent: <code>gone-1</code>, <code>gone-2</code>" in html
    assert _hidden_names(html) == ["aud-000", "aud-249", "beta", "aud-120"]


def test_none_exist_means_nothing_to_confirm(web, batch_app):
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "gone-1\ngone-2"}).content.decode()
    assert "Nothing to delete" in html and "Start deleting" not in html


def test_when_the_list_cannot_be_read_the_operator_is_told_and_may_go_on(web, batch_app, simulator):
    simulator.add_fault(action="error", error="AUTHENTICATION_INVALID", method="GET")
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "beta\ngone-1"}).content.decode()
    assert "Could not check which audiences exist." in html and "AUTHENTICATION_INVALID" in html
    assert "Start deleting" in html and _hidden_names(html) == ["beta", "gone-1"]


def test_one_function_reads_the_whole_list(batch_app, simulator, app_keys, batch_url):
    for i in range(150):
        simulator.add_audience(app_keys.api_key, f"aud-{i:03d}")
    simulator.add_audience(app_keys.api_key, "custom-ids", version="1.0")
    full = services.all_audiences(app=batch_app)
    assert full.complete and len(full.audiences) == 154 and full.calls == 3  # two pages of 1.1, one of 1.0
    assert full.by_name()["custom-ids"]["api_version"] == "1.0"
    capped = services.all_audiences(app=batch_app, max_audiences=100)
    assert not capped.complete and "more than 100 audiences" in capped.error


def test_a_ragged_csv_with_a_titled_column_still_never_sends_its_header_or_other_columns():
    report = names.bulk_names_check("", csv_text="type,name\ncustom_ids,beta\ncustom_ids,churned_q3,extra\nlonely\n")
    assert report.valid == ["beta", "churned_q3"] and report.header == "type,name"
    assert "custom_ids" not in report.valid and "lonely" not in report.valid and report.short_rows == 1
