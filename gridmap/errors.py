"""Every error gridmap raises, in one place.

Each error carries a ``user_message`` that is safe to show to a client; ``api.errors`` maps
the classes to HTTP status codes. Where callers may reasonably catch a builtin, the error
inherits it too (``ValueError``, ``LookupError``).
"""

from __future__ import annotations


class GridmapError(Exception):
    """Base of all gridmap errors."""

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or message


# --- core -----------------------------------------------------------------------------------


class InvalidCellLabel(GridmapError, ValueError):
    """A string is not a cell label of this grid (``C4``, ``AA12``, ``C4-7``)."""


class OutsideGrid(GridmapError, ValueError):
    """A point or cell lies outside the campus grid."""


class InvalidUSNG(GridmapError, ValueError):
    """A string is not a US National Grid / MGRS reference."""


class InvalidQuery(GridmapError, ValueError):
    """A lookup query is empty, too long or otherwise unusable."""


class InvalidModel(GridmapError, ValueError):
    """A campus model breaks one of its own rules (duplicate ids, a unit on a missing level)."""


# --- not found ------------------------------------------------------------------------------


class NotFound(GridmapError, LookupError):
    """Something asked for by id or name does not exist."""


class CampusNotFound(NotFound):
    """No campus with this id."""


class LevelNotFound(NotFound):
    """The campus has no level with this ordinal."""


# --- import ---------------------------------------------------------------------------------


class ImportFailed(GridmapError, ValueError):
    """An import could not be completed; nothing was stored."""


class ManifestError(ImportFailed):
    """The campus manifest is missing, malformed or names something that does not exist."""


class DxfError(ImportFailed):
    """A DXF floor plan cannot be read or lacks what the manifest says it holds."""


class GeoreferenceError(ImportFailed):
    """Control points are too few, degenerate, or fit too badly to place a drawing."""


class ParcelError(ImportFailed):
    """A parcel file cannot be read or holds no usable polygon."""


class DoorRenumbering(ImportFailed):
    """A re-import would renumber exterior doors whose numbers are painted on the building."""


class PoiError(ImportFailed):
    """A points-of-interest file cannot be read or holds a row we cannot use."""


class IndoorFileError(ImportFailed):
    """An OpenStreetMap indoor file or an IMDF archive cannot be used at all: not XML or not a
    zip, an entity bomb, over the size or count limits, or nothing usable in it. Smaller
    problems (a rule broken, a feature skipped) are import findings instead."""


class ImportLimitExceeded(DxfError):
    """A drawing needs more work than an import may spend (time, memory, entity budget, arc
    size); the message names the limit and how to raise it."""


class ImportStopped(ImportFailed):
    """The separate process an import runs in was stopped before it answered (a limit of
    ``api.import_process``); nothing was stored."""


class ImportTimedOut(ImportStopped):
    """The import ran past its wall-clock or CPU time limit and its process was killed."""


class ImportOutOfMemory(ImportStopped):
    """The import needed more memory than its limit and its process was stopped."""


class ImportCrashed(ImportStopped):
    """The import's process died (a signal, an exit without an answer)."""


class ArchiveError(ImportFailed):
    """An uploaded archive (zip) is unsafe or unusable: a path leaving the folder, a link, a
    zip bomb, too many files, nesting, duplicate names; nothing was extracted."""


class Unservable(ImportFailed):
    """An imported campus could not be served (a coordinate that is not a number, an invalid
    geometry, a level whose map cannot be drawn); it was not published."""


# --- outputs --------------------------------------------------------------------------------


class PackageError(GridmapError, ValueError):
    """An offline package cannot be made or opened as asked (a passphrase too short, a zoom
    range out of bounds, a wrong passphrase)."""


# --- access ---------------------------------------------------------------------------------


class Unauthenticated(GridmapError):
    """No valid credentials were presented."""


class Forbidden(GridmapError):
    """The credentials are valid but do not grant access to this resource."""


class Conflict(GridmapError):
    """The request conflicts with the stored state (another change came first)."""


class RevisionConflict(Conflict):
    """A publish expected another revision to be current than the one that is: someone
    published meanwhile. Nothing was changed."""


class AlreadyCurrent(Conflict):
    """The revision asked to be published is the current one already."""


class PayloadTooLarge(GridmapError, ValueError):
    """An upload or request body exceeds the configured limit."""


# --- imagery --------------------------------------------------------------------------------


class ImageryError(ImportFailed):
    """An orthophoto cannot be attached to a campus; nothing was stored."""


class NotATiff(ImageryError):
    """The upload is not a TIFF file at all (a PNG, a JPEG, a zip, text...)."""


class CorruptImagery(ImageryError):
    """A TIFF whose header or pixel data cannot be read (truncated, damaged)."""


class NotGeoreferenced(ImageryError):
    """A TIFF with no coordinate reference system or no geotransform: it cannot be placed."""


class UnknownCRS(ImageryError):
    """A TIFF whose coordinate reference system cannot be related to the earth (a local or
    engineering CRS, a definition PROJ does not know)."""


class ImageryNotCovering(ImageryError):
    """The imagery does not cover the campus's buildings."""


class UnsupportedImagery(ImageryError):
    """A TIFF gridmap cannot use as a photo (16-bit or float samples, a palette, no bands)."""


class ImageryTooLarge(ImageryError, PayloadTooLarge):
    """An orthophoto over the size limits: too many bytes, pixels, or too large a block (a
    decompression bomb declares a huge image in a small file)."""


class NoImagery(NotFound):
    """The campus has no imagery attached."""


# --- jobs -----------------------------------------------------------------------------------


class JobNotFound(NotFound):
    """No job with this id, or one of a campus the caller may not see."""


class JobConflict(GridmapError):
    """A job is not in a state that allows this (cancelling a running job, the file of a job
    not done)."""


# --- store ----------------------------------------------------------------------------------


class StoreSchemaTooNew(GridmapError):
    """The store's database was migrated by a newer gridmap than this one (a rollback of the
    software without the database): this one does not know its schema and must not touch it."""
