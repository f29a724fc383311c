"""`python -m services.common.auth`: the credentials admin command (``admin.main``)."""

import sys

from services.common.auth.admin import main

if __name__ == "__main__":
    sys.exit(main())
