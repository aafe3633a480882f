"""UI fields -> typed inputs: specifications, queries, uploaded images and vectors.

Every function raises a ``TaskvecError`` whose message the app shows as is. Uploaded images reach
``read_image`` as the original file (``image_upload``), so ``taskvec.data.imageio`` converts them
explicitly (16-bit, transparency, animation, palette) and the visitor is told what was converted.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import gradio as gr
from PIL import Image

from taskvec.errors import ImageError, SpecError, VectorShapeError
from taskvec.data.imageio import NOTE_KEY, load_image
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, TextExamples, parse_examples

MAX_EXAMPLES = 200  # more lines than this are almost surely a paste error
UPLOAD_MAX_SIDE = 1024  # larger uploads are downscaled (the adapters resize to width 224 anyway)
MAX_WEIGHT = 1e6  # ensemble weights: only their ratios matter; 1e308 overflows to a NaN vector

KINDS = ("text examples", "image examples", "instruction")


def image_upload(value=None, **kwargs) -> gr.Image:
    """An image input that hands the handler the uploaded file itself (``type="filepath"``, ``image_mode=None``).

    ``gr.Image`` would convert the upload to RGB before the app sees it (dropping transparency, clipping 16-bit
    images, keeping an animation's first frame, all silently) and answers a file that is not an image with its
    own generic error. Here the original file reaches ``read_image``, which converts explicitly and says so, or
    refuses a non-image by its name (no server path). A plain ``gr.Image`` with its ``preprocess`` wrapped (a
    Component subclass would make gradio write a ``.pyi`` stub beside this module at every import)."""
    comp = gr.Image(value, **{**kwargs, "type": "filepath", "image_mode": None})
    plain = comp.preprocess

    def preprocess(payload):
        try:
            return plain(payload)
        except Exception:  # noqa: BLE001 - not an image Pillow can open: read_image says what is wrong
            path = getattr(payload, "path", None)
            if not path:
                raise
            return str(path)

    comp.preprocess = preprocess
    comp._taskvec_upload = True  # marks the app's query-image inputs (tests check every one is)
    return comp


def _path(f) -> str | None:
    """A filepath from whatever gradio or gradio_client hands over (str, dict, FileData-like)."""
    if f is None:
        return None
    if isinstance(f, (str, Path)):
        return str(f)
    if isinstance(f, dict):
        return f.get("path") or f.get("name")
    return getattr(f, "path", None) or getattr(f, "name", None)


def read_image(f, what: str = "image") -> Image.Image:
    """Load an uploaded image (refuses non-images and huge ones) and downscale big ones."""
    p = _path(f)
    if not p:
        raise ImageError(f"No {what} uploaded.")
    try:
        im = load_image(p)
    except ImageError as e:
        raise ImageError(f"The {what}: {e}") from None
    note = im.info.get(NOTE_KEY, "")
    if max(im.size) > UPLOAD_MAX_SIDE:
        im.thumbnail((UPLOAD_MAX_SIDE, UPLOAD_MAX_SIDE))
    if note:
        im.info[NOTE_KEY] = f"The {what} was converted: {note}."
    return im


def say_converted(*images) -> None:
    """One info box telling the visitor what was converted in ``images`` (none if nothing was)."""
    notes = image_notes(*images)
    if notes:
        import html

        import gradio as gr

        gr.Info(html.escape(" ".join(notes), quote=False), duration=15)


def image_notes(*items) -> list[str]:
    """What ``read_image`` converted (16-bit, transparency, animation), one sentence per image; ``items``:
    images, specifications holding images (``.pairs``, ``.parts``) or None."""
    notes = []
    for it in items:
        if isinstance(it, Image.Image):
            if it.info.get(NOTE_KEY):
                notes.append(it.info[NOTE_KEY])
        elif it is not None:
            for part in getattr(it, "parts", ()) or ():
                notes += image_notes(part)
            notes += image_notes(*[x for pair in getattr(it, "pairs", ()) or () for x in pair[:1]])
    return list(dict.fromkeys(notes))


def text_examples(text: str) -> TextExamples:
    lines = sum(1 for line in (text or "").split("\n") if line.strip() and not line.strip().startswith("#"))
    if lines > MAX_EXAMPLES:  # before parsing: 5,000 malformed lines must not make a 5,000-line error
        raise SpecError(f"{lines} example lines is more than the app takes ({MAX_EXAMPLES}); "
                        "5-30 examples are plenty for a task vector.")
    spec = parse_examples(text or "")
    if len(spec.pairs) > MAX_EXAMPLES:
        raise SpecError(f"{len(spec.pairs)} examples is more than the app takes ({MAX_EXAMPLES}); "
                        "5-30 examples are plenty for a task vector.")
    return spec


def image_examples(files: Sequence | None, answers: str) -> ImageExamples:
    """Uploaded images with one answer per line, in upload order."""
    files = [f for f in (files or []) if _path(f)]
    labels = [a.strip() for a in (answers or "").split("\n") if a.strip()]
    if not files:
        raise SpecError("No example images: upload at least two images and type one answer per line.")
    if len(files) > MAX_EXAMPLES:
        raise SpecError(f"{len(files)} images is more than the app takes ({MAX_EXAMPLES}).")
    if len(labels) != len(files):
        raise SpecError(f"{len(files)} images but {len(labels)} answers: type exactly one answer per line, "
                        "in the order of the uploaded images.")
    images = [read_image(f, f"example image {i} ({Path(_path(f)).name})") for i, f in enumerate(files, 1)]
    say_converted(*images)
    return ImageExamples(tuple(zip(images, labels)))


def query(text: str | None, image=None):
    """The query: an uploaded image if there is one, else the text."""
    if _path(image):
        im = read_image(image, "query image")
        say_converted(im)
        return im
    if text is None or not str(text).strip():
        raise SpecError("The query is empty: type a query such as 'Germany' or upload a query image.")
    return str(text).strip()


def build_spec(kind: str, examples: str = "", image_files=None, image_answers: str = "", instruction: str = ""):
    """The main specification of the chosen kind."""
    kind = (kind or "text examples").lower()
    if kind == "text examples":
        return text_examples(examples)
    if kind == "image examples":
        return image_examples(image_files, image_answers)
    if kind == "instruction":
        return Instruction(instruction or "")
    raise SpecError(f"Unknown task kind {kind!r}; use one of {', '.join(KINDS)}.")


def build_ensemble(weights: Sequence[float], examples: str = "", image_files=None, image_answers: str = "",
                   instruction: str = "") -> Ensemble:
    """An ensemble of every specification the user filled in, with weights (text, image, instruction)."""
    w_text, w_image, w_instr = (ensemble_weight(w, k) for w, k in zip(weights, KINDS))
    parts, ws = [], []
    if w_text > 0 and (examples or "").strip():
        parts.append(text_examples(examples)); ws.append(w_text)
    if w_image > 0 and image_files:
        parts.append(image_examples(image_files, image_answers)); ws.append(w_image)
    if w_instr > 0 and (instruction or "").strip():
        parts.append(Instruction(instruction)); ws.append(w_instr)
    if not parts:
        raise SpecError("The ensemble is empty: fill in text examples, image examples or an instruction "
                        "and give it a weight above 0.")
    return Ensemble(tuple(parts), tuple(ws))


def ensemble_weight(w, what: str) -> float:
    """One ensemble weight: a finite number in [0, MAX_WEIGHT] (only the ratios matter)."""
    try:
        w = float(w or 0)
    except (TypeError, ValueError):
        raise SpecError(f"The ensemble weight for {what} must be a number; got {str(w)[:40]!r}.") from None
    if not math.isfinite(w) or not 0 <= w <= MAX_WEIGHT:
        raise SpecError(f"The ensemble weight for {what} must be between 0 and {MAX_WEIGHT:g}; got {w:g}. "
                        "Only the ratios of the weights matter (1, 1, 0.5 is a fine choice).")
    return w


def read_vector(f):
    """A task vector uploaded as a .safetensors file written by the app or the CLI."""
    from taskvec.core.vectors import TaskVector

    p = _path(f)
    if not p:
        return None
    if not p.lower().endswith(".safetensors"):
        raise SpecError(f"{Path(p).name} is not a .safetensors file; upload a task vector exported by taskvec.")
    try:
        return TaskVector.load(p)
    except VectorShapeError as e:
        raise VectorShapeError(f"The uploaded vector: {e}") from None


def gallery_items(files, answers: str) -> list[tuple[str, str]]:
    """(image path, caption) pairs for previewing example images with their answers."""
    paths = [_path(f) for f in (files or []) if _path(f)]
    labels = [a.strip() for a in (answers or "").split("\n") if a.strip()]
    return [(p, labels[i] if i < len(labels) else "⚠ no answer yet") for i, p in enumerate(paths)]
