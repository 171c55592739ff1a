from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from audienceadmin import health
from audienceadmin.views import approvals, apps, audiences, bulk, deletion, history, home, people, signin
from audienceadmin.views.common import needs_an_app

# The admin signs in through allauth too (MFA, lockout, audit), never through its own form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

# allauth pages the dashboard does not offer: people are invited or come through SSO, and their
# e-mail addresses and SSO links are the administrators' (same names, so allauth's links resolve).
CLOSED = [
    ("accounts/signup/", "account_signup"),
    ("accounts/email/", "account_email"),
    ("accounts/confirm-email/", "account_email_verification_sent"),
    ("accounts/password/set/", "account_set_password"),
    ("accounts/password/reset/", "account_reset_password"),
    ("accounts/password/reset/done/", "account_reset_password_done"),
    ("accounts/login/code/confirm/", "account_confirm_login_code"),
    ("accounts/3rdparty/", "socialaccount_connections"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", RedirectView.as_view(pattern_name="account_login", query_string=True), name="login"),
    *(path(route, signin.closed, name=name) for route, name in CLOSED),
    re_path(r"^accounts/confirm-email/(?P<key>[-:\w]+)/$", signin.closed, name="account_confirm_email"),
    path("accounts/reauthenticate/sso/", signin.reauthenticate_sso, name="reauthenticate_sso"),
    path("accounts/", include("allauth.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("people/", people.people, name="people"),
    path("people/invite/", people.person_invite, name="person_invite"),
    path("people/<int:pk>/", people.person_edit, name="person_edit"),
    path("people/<int:pk>/deactivate/", people.person_deactivate, name="person_deactivate"),
    path("people/<int:pk>/reactivate/", people.person_reactivate, name="person_reactivate"),
    path("people/<int:pk>/unlock/", people.person_unlock, name="person_unlock"),
    path("people/<int:pk>/invite-again/", people.person_invite_again, name="person_invite_again"),
    path("apps/", apps.app_list, name="app_list"),
    path("apps/new/", apps.app_create, name="app_create"),
    path("apps/<int:pk>/edit/", apps.app_edit, name="app_edit"),
    path("apps/<int:pk>/archive/", apps.app_archive, name="app_archive"),
    path("apps/<int:pk>/restore/", apps.app_restore, name="app_restore"),
    path("apps/<int:pk>/test/", apps.app_test_connection, name="app_test_connection"),
    path("delete/", needs_an_app(deletion.audience_delete, title="Delete an audience"), name="audience_delete"),
    path("delete/confirm/", deletion.audience_delete_confirm, name="audience_delete_confirm"),
    path("audiences/", needs_an_app(audiences.audience_browse_pick, title="Audiences"), name="audience_browse_pick"),
    path("apps/<int:pk>/audiences/", audiences.audience_browse, name="audience_browse"),
    path("bulk/", needs_an_app(bulk.bulk_new, title="Bulk deletion"), name="bulk_new"),
    path("bulk/confirm/", bulk.bulk_confirm, name="bulk_confirm"),
    path("bulk/<int:pk>/", bulk.bulk_job, name="bulk_job"),
    path("bulk/<int:pk>/progress.json", bulk.bulk_job_progress, name="bulk_job_progress"),
    path("bulk/<int:pk>/results.csv", bulk.bulk_job_results, name="bulk_job_results"),
    path("bulk/<int:pk>/cancel/", bulk.bulk_job_cancel, name="bulk_job_cancel"),
    path("bulk/<int:pk>/retry/", bulk.bulk_job_retry, name="bulk_job_retry"),
    path("requests/", approvals.request_list, name="request_list"),
    path("requests/<int:pk>/", approvals.request_detail, name="request_detail"),
    path("requests/<int:pk>/approve/", approvals.request_approve, name="request_approve"),
    path("requests/<int:pk>/reject/", approvals.request_reject, name="request_reject"),
    path("requests/<int:pk>/withdraw/", approvals.request_withdraw, name="request_withdraw"),
    path("requests/<int:pk>/break-glass/", approvals.request_break_glass, name="request_break_glass"),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_export, name="history_export"),
    path("history/events/<int:pk>/", history.history_event, name="history_event"),
    path("admin/", admin.site.urls),
]
