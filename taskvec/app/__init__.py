"""The browser app: the only package of taskvec that imports gradio.

``main()`` parses the command line, loads the start model and serves the Blocks that
``taskvec.app.ui.build()`` lays out; every handler is a few lines into ``taskvec.analysis``.
"""


def main(argv=None) -> None:
    from taskvec.app.ui import main as _main

    _main(argv)
