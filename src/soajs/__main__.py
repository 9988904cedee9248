"""``python -m soajs ...``: see :mod:`soajs.cli`."""

from soajs.cli import main

raise SystemExit(main())
