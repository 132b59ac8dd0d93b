"""gridmap core: campus model, local CRS, labelled grid, spatial index, lookup, door numbering.

This package is pure: it reads no files, opens no databases and imports none of
``importers``, ``tiles`` or ``api``.
"""

__version__ = "0.1.0"
