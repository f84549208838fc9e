"""One exception hierarchy for everything a user can get wrong.

Every error raised for bad input is a :class:`KerasLiverError` whose message
names the file or argument and says what is wrong with it. The command line
turns these into one line on stderr and exit code 2.
"""


class KerasLiverError(Exception):
    """Base class of all errors that keras-liver raises for bad input."""


class MissingPathError(KerasLiverError, FileNotFoundError):
    """A file or folder that was asked for does not exist (or is empty)."""


class FileFormatError(KerasLiverError, ValueError):
    """A file exists but cannot be read as the format its name promises."""


class DicomSeriesError(KerasLiverError, ValueError):
    """A DICOM folder does not hold exactly one complete, evenly spaced series."""


class LabelError(KerasLiverError, ValueError):
    """A label map holds values outside the allowed set."""


class GeometryError(KerasLiverError, ValueError):
    """Image and label (or two volumes) do not share one voxel grid."""


class ConfigError(KerasLiverError, ValueError):
    """A configuration value or command-line argument is invalid."""


class ImageValueError(KerasLiverError, ValueError):
    """An image array holds values that cannot be processed (NaN, Inf) or has the wrong rank."""


class ExportError(KerasLiverError, ValueError):
    """A model cannot be exported, or an export target already exists."""


class ServingError(KerasLiverError, RuntimeError):
    """A model server rejected a request or could not be reached.

    Attributes:
        code: The gRPC status name (``"INVALID_ARGUMENT"``, ``"NOT_FOUND"``,
            ``"UNAVAILABLE"`` ...) or the HTTP status for REST.
    """

    def __init__(self, message: str, code: str = "UNKNOWN"):
        super().__init__(message)
        self.code = code


class TrainingDivergedError(KerasLiverError, RuntimeError):
    """Training produced a non-finite loss or weights; the run folder keeps its last good state."""
