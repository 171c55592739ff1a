"""The project's URLs plus a stock Django admin for the audit model: the benchmark's baseline."""

from django.contrib import admin
from django.urls import path

from audienceadmin.models import AuditEvent
from audienceadmin.urls import urlpatterns as project_urls

stock = admin.AdminSite(name="bench_admin")
stock.register(AuditEvent)  # a plain ModelAdmin: offset pages and a full COUNT(*)

urlpatterns = [path("bench-admin/", stock.urls), *project_urls]
