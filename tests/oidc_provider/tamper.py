"""For the client ``audience-admin-tampered``: the token endpoint's ID token gets a payload changed
after signing (more groups, as someone escalating their role would try), keeping the signature."""

import base64
import json

from tests.oidc_provider.control import TAMPERED_CLIENT_ID


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tamper(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = [*claims.get("groups", []), "aa-keyadmins", "aa-operators"]
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


class TamperMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.endswith("/token/") and request.POST.get("client_id") == TAMPERED_CLIENT_ID:
            body = json.loads(response.content)
            if "id_token" in body:
                body["id_token"] = tamper(body["id_token"])
                response.content = json.dumps(body).encode()
                response["Content-Length"] = str(len(response.content))
        return response
