"""taskvec: cross-modal task vectors in vision-language models.

The core never imports a UI toolkit. Entry points: ``taskvec.models.load_model``,
``taskvec.specs``, ``taskvec.activations``, ``taskvec.patching``, ``taskvec.lens``.
"""

__version__ = "0.1.0"
