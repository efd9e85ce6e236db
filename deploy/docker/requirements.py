"""Print the third-party requirements of the given pyproject.toml files, one a line.

The Dockerfiles install these before copying any source, so the big layer (torch
in the GPU workers) is rebuilt only when a pin changes, not on every code change.
Sparrow's own packages (sparrow-*) are left out: they are installed from source after.
"""

import sys
import tomllib

for path in sys.argv[1:]:
    with open(path, "rb") as file:
        for requirement in tomllib.load(file)["project"].get("dependencies", []):
            if not requirement.startswith("sparrow-"):
                print(requirement)
