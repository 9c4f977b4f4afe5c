"""A plugin that fails on import, as a package with a missing dependency would."""

import this_dependency_does_not_exist  # noqa: F401
