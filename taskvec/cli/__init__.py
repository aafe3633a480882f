"""Command line: ``python -m taskvec run|eval|figures|bench|check|models``; one module per subcommand.

Each subcommand parses its arguments, calls one analysis and draws its figures with
``taskvec.plot``. Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from taskvec.errors import TaskvecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskvec", description="Cross-modal task vectors in VLMs")
    sub = parser.add_subparsers(dest="command", required=True)
    from taskvec.cli import bench, check, figures, models, run
    from taskvec.cli import eval as evaluation

    for module in (run, evaluation, figures, bench, check, models):
        module.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except TaskvecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"error: file not found: {e.filename or e}", file=sys.stderr)
        return 2
