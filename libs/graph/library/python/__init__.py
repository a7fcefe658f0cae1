"""Scripts run by the library graphs' `python` steps (a package only so that installs ship them)."""
