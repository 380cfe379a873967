import sys

from ratings.cli import main

sys.exit(main())
