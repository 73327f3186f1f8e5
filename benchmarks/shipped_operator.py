"""The operator with only what its image installs importable: ``python -m benchmarks.shipped_operator run``.

The benchmarks run from the development virtualenv, which also holds the sandbox's packages; one of them,
the official Kubernetes client, is not in the image (pyproject.toml lists it under the ``sandbox`` extra
only, and the image installs the operator without extras). kopf imports that client whenever it is
importable, to recognise its model classes, which costs about 20 MiB of resident memory the shipped
operator never has. Marking it absent here makes a benchmark measure the operator users run.
"""

from __future__ import annotations

import sys

#: Packages kopf imports when it finds them and the image does not install.
NOT_IN_THE_IMAGE = ("kubernetes", "kubernetes_asyncio", "pykube")


def main() -> int:
    for name in NOT_IN_THE_IMAGE:
        # None in sys.modules makes `import name` raise ImportError, as on the image.
        sys.modules[name] = None  # type: ignore[assignment]
    from ccloud_operator.cli import main as operator_main

    return operator_main()


if __name__ == "__main__":
    sys.exit(main())
