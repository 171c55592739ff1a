"""A real OpenID Connect provider for the tests: django-oauth-toolkit's, in its own process with its
own Django settings (``python -m tests.oidc_provider``; ``OidcProvider`` starts and stops it).

Its people (password: ``PASSWORD``) and their groups are in ``serve.PEOPLE``. Two clients are
registered: ``audience-admin`` and ``audience-admin-tampered``, for which the provider alters the
ID token's payload after signing it (so its signature no longer matches), as a forger would.
"""

from tests.oidc_provider.control import CLIENT_ID, CLIENT_SECRET, PASSWORD, TAMPERED_CLIENT_ID, OidcProvider

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "PASSWORD", "TAMPERED_CLIENT_ID", "OidcProvider"]
