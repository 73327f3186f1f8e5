"""`python -m ccloud_sandbox` is the `ccloud-sandbox` command."""

import sys

from ccloud_sandbox.cli import main

sys.exit(main())
