from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from audienceadmin import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("apps/", views.app_list, name="app_list"),
    path("apps/new/", views.app_create, name="app_create"),
    path("apps/<int:pk>/edit/", views.app_edit, name="app_edit"),
    path("apps/<int:pk>/archive/", views.app_archive, name="app_archive"),
    path("apps/<int:pk>/test/", views.app_test_connection, name="app_test_connection"),
    path("delete/", views.audience_delete, name="audience_delete"),
    path("delete/confirm/", views.audience_delete_confirm, name="audience_delete_confirm"),
    path("history/", views.history, name="history"),
    path("history/export.csv", views.history_export, name="history_export"),
    path("history/events/<int:pk>/", views.history_event, name="history_event"),
    path("admin/", admin.site.urls),
]
