import sys

from tau.cli import main

sys.exit(main())
