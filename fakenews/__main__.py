import sys

from fakenews.cli import main

sys.exit(main())
