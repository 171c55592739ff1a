"""The test side of the provider: start and stop its process, register callbacks, and act as the
person's browser at the IdP (its login form) with ``requests``. Imports nothing of Django."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import requests

CLIENT_ID = "audience-admin"
TAMPERED_CLIENT_ID = "audience-admin-tampered"
CLIENT_SECRET = "test-client-secret-0123456789"  # noqa: S105 - the test provider's client
PASSWORD = "idp password 0123"  # noqa: S105 - every person's password at the test IdP
ROOT = Path(__file__).resolve().parents[2]


class OidcProvider:
    """``with OidcProvider() as idp:`` runs the provider on a free loopback port."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> OidcProvider:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            self.process.kill()
            raise RuntimeError("The test OpenID Connect provider did not start")
        self.url = f"http://127.0.0.1:{json.loads(line)['port']}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def allow_redirect_uri(self, uri: str) -> None:
        requests.post(f"{self.url}/control/redirect-uri", data={"uri": uri}, timeout=5).raise_for_status()

    def sign_in(self, authorize_url: str, username: str, session: requests.Session | None = None) -> str:
        """Follow the authorization request as a browser would: sign in at the IdP, and return the
        URL the IdP sends the browser back to (the relying party's callback, with the code)."""
        browser = session or requests.Session()
        response = browser.get(authorize_url, allow_redirects=False, timeout=5)
        while response.is_redirect and response.headers["Location"].startswith(("/", self.url)):
            url = urljoin(response.url, response.headers["Location"])
            response = browser.get(url, allow_redirects=False, timeout=5)
            if "/login/" in url and response.status_code == 200:
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
                data = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
                data["next"] = re.search(r'name="next" value="([^"]*)"', response.text).group(1).replace("&amp;", "&")
                response = browser.post(url, data=data, allow_redirects=False, timeout=5, headers={"Referer": url})
        if not response.is_redirect:
            raise AssertionError(f"The IdP did not send the browser back: {response.status_code} {response.text[:300]}")
        return response.headers["Location"]
