"""`python -m services.platform.auth`: the credentials admin command (``admin.main``)."""

import sys

from services.platform.auth.admin import main

if __name__ == "__main__":
    sys.exit(main())
