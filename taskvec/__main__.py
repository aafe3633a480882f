import sys

from taskvec.cli import main

sys.exit(main())
