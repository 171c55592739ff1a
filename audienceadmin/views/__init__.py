"""The pages, a module per area: each view validates a form, calls a service or a selector, and
turns the result into a page, a message or a redirect. ``audienceadmin/urls.py`` maps the URLs.

- ``home``: what this user can do here;
- ``apps``: apps and their keys (key administrators);
- ``deletion``: deleting one audience, with its confirmation step;
- ``audiences``: the audience browser;
- ``bulk``: bulk jobs: the list, the review, the job page, its progress and results;
- ``history``: the audit trail: pages, CSV export, an event's detail.
"""
