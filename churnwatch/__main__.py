from churnwatch.cli import main

raise SystemExit(main())
