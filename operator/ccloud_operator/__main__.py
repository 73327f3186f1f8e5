"""`python -m ccloud_operator` is the `ccloud-operator` command."""

import sys

from ccloud_operator.cli import main

sys.exit(main())
