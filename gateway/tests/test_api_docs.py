"""The REST API's documentation: README's route table says what /openapi.json
says, route by route, errors included."""

import re
from pathlib import Path

from sparrow_common.processes import free_port
from sparrow_gateway.config import Settings
from sparrow_gateway.main import create_app

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/[^`]*)` \|.*\| ([0-9 ]+|none) \|$")


def documented_in_readme() -> dict[tuple[str, str], set[int]]:
    rows = {}
    for line in README.read_text().splitlines():
        if match := ROW.match(line):
            method, path, codes = match.groups()
            rows[method, path] = set() if codes == "none" else {int(code) for code in codes.split()}
    return rows


def documented_in_openapi() -> dict[tuple[str, str], set[int]]:
    spec = create_app(Settings(chain_addr=f"127.0.0.1:{free_port()}")).openapi()
    return {
        (method.upper(), path): {int(code) for code in operation["responses"] if int(code) >= 400}
        for path, operations in spec["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
    }


def test_the_readme_lists_every_route_with_the_errors_openapi_documents():
    readme, openapi = documented_in_readme(), documented_in_openapi()
    assert set(readme) == set(openapi)
    for route, codes in openapi.items():
        assert readme[route] == codes, route


def test_every_error_a_route_documents_has_the_error_schema():
    spec = create_app(Settings(chain_addr=f"127.0.0.1:{free_port()}")).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400 and path.startswith("/api/"):
                    schema = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                    expected = "HTTPValidationError" if code == "422" else "Error"
                    assert schema == expected, (method, path, code)
