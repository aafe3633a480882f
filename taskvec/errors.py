"""Typed errors. Each message says what was expected, what came, and what to do next."""


class TaskvecError(ValueError):
    """Base class of every error taskvec raises on bad input."""


class SpecError(TaskvecError):
    """A task specification is empty or malformed (examples, instruction, weights)."""


class ModelLoadError(TaskvecError):
    """A model cannot be loaded (unknown architecture, no weights, no network)."""


class UnsupportedInputError(TaskvecError):
    """The model cannot take this input (an image on a text-only model, ...)."""


class LayerError(TaskvecError):
    """A layer index outside the model's residual layers."""


class VectorShapeError(TaskvecError):
    """A task vector of the wrong hidden size or shape."""


class ContextLengthError(TaskvecError):
    """A prompt longer than the model's context window."""


class ImageError(TaskvecError):
    """A file that is not an image, or an image too large to use."""


class TaskvecDataError(TaskvecError):
    """A task dataset or user data file is missing, empty or malformed."""


class DelimiterError(SpecError):
    """A prompt with no token ending in the delimiter (':') that the answer follows."""


class PatchError(TaskvecError):
    """A patch, edit or capture that cannot be applied as asked (mode, call selection, shape)."""


class PositionError(PatchError):
    """A patch or capture position (or batch row) outside the forward call's sequence."""


class LayerNotRunError(TaskvecError):
    """A hooked residual layer that never ran inside its ``intervene`` block."""


class TimeLimitError(TaskvecError):
    """A request that ran past the app's per-request time limit (public mode); stopped between two steps."""
