"""Error reports (Django's debug page, the 500 e-mails, logged tracebacks' locals) never show a key.

Django's ``SafeExceptionReporterFilter`` honours ``@sensitive_variables`` and
``@sensitive_post_parameters`` only when ``DEBUG`` is off; ``make run`` and ``make demo`` run with it
on. This filter is always active, and it hides every local variable of the frames that handle keys
in clear text: the Batch transport and deadline, the HTTP stack below them, and encryption.
"""

from __future__ import annotations

from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# Frames whose locals are never shown: they hold a request's URL (an MEP key is a path segment) or headers.
HIDDEN_MODULES = (
    "audienceadmin.batch.transport",
    "audienceadmin.batch.deadline",
    "audienceadmin.fields",
    "cryptography",
    "requests",
    "urllib3",
    "http.client",
    "ssl",
    "socket",
)


def _hidden(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in HIDDEN_MODULES)


class KeySafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: Any) -> bool:
        return True

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        if _hidden(tb_frame.f_globals.get("__name__", "")):
            return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
        return super().get_traceback_frame_variables(request, tb_frame)
