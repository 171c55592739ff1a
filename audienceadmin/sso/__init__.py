"""Single sign-on with OpenID Connect, through django-allauth.

- ``provider``: allauth's OpenID Connect provider, verifying every ID token's signature;
- ``adapters``: the account and social-account adapters (who may sign in, how, and what is audited);
- ``context``: what the sign-in pages need to know (the SSO button, whether passwords are on).
"""
