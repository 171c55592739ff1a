"""Benchmark: a page of 50 in the audience browser, against the code path before search and sorts.

    .venv/bin/python bench/browse.py [--audiences 2000] [--latency 0] [--repeat 30]

In one run, with medians of repeated in-process requests (the view, its Batch call over loopback to the
simulator, the template): the browser's default page of 50 (Batch's order: one list call) against the
view as it was before (the same list call, the template of that time, kept in bench/browse_before.html);
then a search and a sort across the whole app, the first time (the full list read, a hundred a call)
and from the per-app cache. Prints figures and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BEFORE = Path(__file__).resolve().parent / "browse_before.html"


def median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audiences", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.0, help="simulator seconds per call")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    engine = common.configure("browse")

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.cache import cache
    from django.http import HttpResponse
    from django.shortcuts import get_object_or_404
    from django.template import engines
    from django.test import RequestFactory

    from audienceadmin import roles, selectors, services
    from audienceadmin.access import permission_required
    from audienceadmin.batch.simulator import BatchSimulator
    from audienceadmin.views.audiences import audience_browse

    operator, _ = get_user_model().objects.get_or_create(username="bench-browser")
    operator.groups.add(Group.objects.get(name=roles.OPERATORS))
    operator = get_user_model().objects.get(pk=operator.pk)
    before = engines["django"].from_string(BEFORE.read_text())
    factory = RequestFactory()

    def request(query: str = ""):
        req = factory.get(f"/audiences/1/?{query}")
        req.user, req.session = operator, SessionStore()
        req._messages = FallbackStorage(req)
        return req

    @permission_required(roles.DELETE_AUDIENCE)
    def old_view(req, pk: int) -> HttpResponse:  # the view as it was: one list call, the template of that time
        app = get_object_or_404(selectors.apps_for_delete(user=req.user), pk=pk)
        listing = services.audience_list(app=app, offset=0, limit=services.AUDIENCE_PAGE_SIZE)
        context = {"app": app, "listing": listing, "apps": selectors.apps_for_delete(user=req.user)}
        return HttpResponse(before.render(context, req))

    def view_before(app) -> None:
        assert old_view(request(), app.pk).status_code == 200

    with BatchSimulator(latency=args.latency) as simulator:
        settings.BATCH_API_URL = simulator.url
        stamp = time.time_ns()
        api_key, rest_key = f"BENCHAPI{stamp}", f"BENCHREST{stamp}"
        simulator.add_app(api_key, rest_key, audiences=[])
        for i in range(args.audiences):
            simulator.add_audience(api_key, f"{'promo' if i % 7 == 0 else 'aud'}-{i:05d}", nb_ids=i * 13)
        app = services.app_create(actor=operator, name=f"Bench browse {stamp}", api_key=api_key,
                                  rest_api_key=rest_key, ip=None)  # fmt: skip

        def view_now(query: str = "") -> None:
            response = audience_browse(request(query), app.pk)
            assert response.status_code == 200

        def uncached(query: str) -> None:
            cache.clear()
            view_now(query)

        for _ in range(3):  # warm-up: templates compiled, connections open
            view_before(app)
            view_now()
        # alternate the two, so that a busy machine weighs on both alike
        old, new = [], []
        for _ in range(args.repeat):
            old.append(median_ms(lambda: view_before(app), 1))
            new.append(median_ms(view_now, 1))
        old_ms, new_ms = statistics.median(old), statistics.median(new)
        search_cold = median_ms(lambda: uncached("q=PROMO-001"), max(3, args.repeat // 5))
        search_warm = median_ms(lambda: view_now("q=PROMO-001"), args.repeat)
        sort_warm = median_ms(lambda: view_now("sort=-size&per=100"), args.repeat)

    print(f"{engine}: {args.audiences:,} audiences, simulator latency {args.latency * 1000:.0f} ms per call, "
          f"medians of {args.repeat}\n")  # fmt: skip
    print(f"  page of 50, before (Batch's order)       {old_ms:8.1f} ms")
    print(f"  page of 50, now (Batch's order)          {new_ms:8.1f} ms   ratio {new_ms / old_ms:.2f}x")
    print(f"  search, full list read ({-(-args.audiences // 100)} calls)       {search_cold:8.1f} ms")
    print(f"  search, from the per-app cache           {search_warm:8.1f} ms")
    print(f"  sort by size, 100 a page, from the cache {sort_warm:8.1f} ms")
    print("\n  target: the page of 50 within 1.1x of before")


if __name__ == "__main__":
    main()
