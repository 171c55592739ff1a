"""The audience browser: search by name across the whole app, sorts, page sizes; Batch's own order
costs one list call, as before."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(operator, batch_url):
    cache.clear()
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def lots(simulator, app_keys, batch_app) -> list[str]:
    """250 more audiences (newest last: Batch lists them first), sizes 0..249."""
    names = [f"Promo-{i:03d}" if i % 10 == 0 else f"aud-{i:03d}" for i in range(250)]
    for i, name in enumerate(names):
        simulator.add_audience(app_keys.api_key, name, nb_ids=i)
    return names


def _names(html: str) -> list[str]:
    return re.findall(r'name="picked" value="([^"]+)"', html)


def _browse(web, app, **query) -> str:
    return web.get(reverse("audience_browse", args=[app.pk]), query).content.decode()


def test_batchs_order_is_one_list_call_of_the_page_size(web, batch_app, lots, simulator):
    simulator.clear_requests()
    html = _browse(web, batch_app)
    assert _names(html) == lots[::-1][:50]
    # one list call of the page size per Custom Audience API version
    assert [(r.method, r.path.split("/")[1], r.query) for r in simulator.requests] == [
        ("GET", "1.1", "from=0&limit=50"),
        ("GET", "1.0", "from=0&limit=50"),
    ]


def test_search_finds_names_across_the_whole_app_whatever_their_case(web, batch_app, lots, simulator):
    simulator.clear_requests()
    html = _browse(web, batch_app, q="promo-1")
    assert sorted(_names(html)) == ["Promo-100", "Promo-110", "Promo-120", "Promo-130", "Promo-140",
                                    "Promo-150", "Promo-160", "Promo-170", "Promo-180", "Promo-190"]  # fmt: skip
    assert "10 audiences whose name contains “promo-1”, across the whole app" in html
    # the full list, a hundred a call: three pages of 1.1, one (empty) of 1.0
    assert [r.path.split("/")[1] for r in simulator.requests] == ["1.1", "1.1", "1.1", "1.0"]
    _browse(web, batch_app, q="PROMO-2")
    assert len(simulator.requests) == 4  # kept a minute: the next search costs no call
    assert "No audience name contains “zzz”." in _browse(web, batch_app, q="zzz")


def test_sorts_and_page_sizes(web, batch_app, lots):
    by_name = _names(_browse(web, batch_app, sort="name", per=25))
    assert len(by_name) == 25 and by_name == sorted(by_name, key=str.lower) and by_name[0] == "aud-001"
    largest = _browse(web, batch_app, sort="-size", per=100)
    assert _names(largest)[:3] == ["aud-249", "aud-248", "aud-247"] and len(_names(largest)) == 100
    assert "1–100 of 253" in largest and "sort=-size&amp;per=100&amp;from=100" in largest
    last = _browse(web, batch_app, sort="-size", per=100, **{"from": 200})
    assert len(_names(last)) == 53 and "201–253 of 253" in last and 'rel="next"' not in last
    updated = _browse(web, batch_app, sort="-updated", per=25)
    assert len(_names(updated)) == 25 and '<option value="-updated" selected>' in updated
    # anything else falls back to Batch's order and the default page size
    assert len(_names(_browse(web, batch_app, sort="nope", per=7))) == 50


def test_the_page_has_select_all_and_a_sticky_bar_with_the_count(web, batch_app, lots):
    html = _browse(web, batch_app)
    assert 'id="select-page" aria-label="Select every audience on this page"' in html
    assert '<div class="sticky-bar" id="bulk-bar">' in html and 'id="selected-count" aria-live="polite"' in html
    assert html.index('id="bulk-bar"') < html.index("<table")  # the bar is above the list
    assert '<td class="num" data-label="IDs">249</td>' in html
    assert "audienceadmin/browse.js" in html
