"""``python -m audienceadmin.batch.simulator``: see cli.py."""

from .cli import main

raise SystemExit(main())
