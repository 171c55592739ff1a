from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from audienceadmin import health
from audienceadmin.views import apps, audiences, bulk, deletion, history, home

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("apps/", apps.app_list, name="app_list"),
    path("apps/new/", apps.app_create, name="app_create"),
    path("apps/<int:pk>/edit/", apps.app_edit, name="app_edit"),
    path("apps/<int:pk>/archive/", apps.app_archive, name="app_archive"),
    path("apps/<int:pk>/test/", apps.app_test_connection, name="app_test_connection"),
    path("delete/", deletion.audience_delete, name="audience_delete"),
    path("delete/confirm/", deletion.audience_delete_confirm, name="audience_delete_confirm"),
    path("audiences/", audiences.audience_browse_pick, name="audience_browse_pick"),
    path("apps/<int:pk>/audiences/", audiences.audience_browse, name="audience_browse"),
    path("bulk/", bulk.bulk_new, name="bulk_new"),
    path("bulk/confirm/", bulk.bulk_confirm, name="bulk_confirm"),
    path("bulk/<int:pk>/", bulk.bulk_job, name="bulk_job"),
    path("bulk/<int:pk>/progress.json", bulk.bulk_job_progress, name="bulk_job_progress"),
    path("bulk/<int:pk>/results.csv", bulk.bulk_job_results, name="bulk_job_results"),
    path("bulk/<int:pk>/cancel/", bulk.bulk_job_cancel, name="bulk_job_cancel"),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_export, name="history_export"),
    path("history/events/<int:pk>/", history.history_event, name="history_event"),
    path("admin/", admin.site.urls),
]
