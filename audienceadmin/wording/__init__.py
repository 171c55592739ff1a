"""What operators read about outcomes, in one place: a copy change never touches logic.

Services, the bulk runner and the pages take their sentences from here (``wording.X``); a module by
subject. Functions take plain values (names, statuses, reasons), never a request or a model, so any
caller can use them.
"""

from audienceadmin.wording.approvals import *  # noqa: F403
from audienceadmin.wording.apps import *  # noqa: F403
from audienceadmin.wording.names import *  # noqa: F403
from audienceadmin.wording.outcomes import *  # noqa: F403
from audienceadmin.wording.people import *  # noqa: F403
from audienceadmin.wording.reading import *  # noqa: F403
from audienceadmin.wording.refusals import *  # noqa: F403
