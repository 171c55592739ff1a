from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from audienceadmin import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("apps/", views.app_list, name="app_list"),
    path("apps/new/", views.app_create, name="app_create"),
    path("apps/<int:pk>/edit/", views.app_edit, name="app_edit"),
    path("apps/<int:pk>/archive/", views.app_archive, name="app_archive"),
    path("apps/<int:pk>/test/", views.app_test_connection, name="app_test_connection"),
    path("delete/", views.audience_delete, name="audience_delete"),
    path("delete/confirm/", views.audience_delete_confirm, name="audience_delete_confirm"),
    path("audiences/", views.audience_browse_pick, name="audience_browse_pick"),
    path("apps/<int:pk>/audiences/", views.audience_browse, name="audience_browse"),
    path("bulk/", views.bulk_new, name="bulk_new"),
    path("bulk/confirm/", views.bulk_confirm, name="bulk_confirm"),
    path("bulk/<int:pk>/", views.bulk_job, name="bulk_job"),
    path("bulk/<int:pk>/progress.json", views.bulk_job_progress, name="bulk_job_progress"),
    path("bulk/<int:pk>/results.csv", views.bulk_job_results, name="bulk_job_results"),
    path("bulk/<int:pk>/cancel/", views.bulk_job_cancel, name="bulk_job_cancel"),
    path("history/", views.history, name="history"),
    path("history/export.csv", views.history_export, name="history_export"),
    path("history/events/<int:pk>/", views.history_event, name="history_event"),
    path("admin/", admin.site.urls),
]
