"""The provider process: bind a loopback port, set up Django (a fresh SQLite file), seed people and
clients, print ``{"port": N}`` on one line, serve until killed."""

from __future__ import annotations

import json
import os
import sys
import tempfile

PEOPLE = {
    # username (an e-mail address) -> the IdP groups it is in
    "alice@corp.example": ["aa-operators"],
    "kim@corp.example": ["aa-keyadmins"],
    "bob@corp.example": [],
    "eve@elsewhere.example": ["aa-operators"],
}


def add_redirect_uri(request):
    """Test-only control: register a redirect URI (the relying party's callback) for both clients."""
    from django.http import HttpResponse, HttpResponseNotAllowed
    from oauth2_provider.models import Application

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    uri = request.POST["uri"]
    for app in Application.objects.all():
        uris = app.redirect_uris.split()
        if uri not in uris:
            app.redirect_uris = " ".join([*uris, uri])
            app.save(update_fields=["redirect_uris"])
    return HttpResponse("ok")


add_redirect_uri.csrf_exempt = True  # a back channel of the tests, on loopback only


def _seed() -> None:
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    from tests.oidc_provider.control import CLIENT_ID, CLIENT_SECRET, PASSWORD, TAMPERED_CLIENT_ID

    for username, groups in PEOPLE.items():
        user = User.objects.create_user(username=username, email=username, password=PASSWORD)
        user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
    for client_id in (CLIENT_ID, TAMPERED_CLIENT_ID):
        Application.objects.create(
            name=client_id,
            client_id=client_id,
            client_secret=CLIENT_SECRET,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            algorithm=Application.RS256_ALGORITHM,
            redirect_uris="http://testserver/accounts/oidc/company/login/callback/",
            skip_authorization=True,
        )


def main() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    port = server.server_address[1]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    workdir = tempfile.mkdtemp(prefix="oidc-provider-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "OIDC_PROVIDER_DB": os.path.join(workdir, "provider.sqlite3"),
            "OIDC_PROVIDER_KEY": pem.decode(),
            "OIDC_PROVIDER_ISSUER": f"http://127.0.0.1:{port}/o",
        }
    )
    import django
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    _seed()
    server.set_app(WSGIHandler())
    print(json.dumps({"port": port}), flush=True)
    sys.stderr.close()  # request logs are not wanted
    server.serve_forever()
