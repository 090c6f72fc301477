"""Bearer tokens: ``fairkg token create|list|revoke``, the hashed store in ``tokens.json``, and roles over HTTP."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fairkg.api.cli import app as cli
from fairkg.kg.errors import NotFoundError
from fairkg.kg.settings import Settings
from fairkg.kg.store import open_store
from fairkg.kg.tokens import (
    TokenError,
    create_token,
    find_token,
    list_tokens,
    revoke_token,
    role_allows,
    tokens_file,
)

runner = CliRunner()


def _cli(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["--home", str(home), "token", *args])
    return result.exit_code, result.stdout, result.stderr


def test_token_create_list_revoke_through_the_cli(tmp_path: Path) -> None:
    code, out, _ = _cli(tmp_path, "create", "--name", "ci job", "--role", "publisher", "--format", "json")
    assert code == 0
    created = json.loads(out)
    token = created["token"]
    assert created["role"] == "publisher" and created["name"] == "ci job" and len(token) >= 43

    path = tokens_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert token not in text  # only the hash is kept
    assert hashlib.sha256(token.encode()).hexdigest() in text

    code, out, err = _cli(tmp_path, "create", "--name", "alice")  # table output: the token alone on stdout
    assert code == 0 and "shown once" in err
    second = out.strip()
    assert find_token(tmp_path, second) is not None and find_token(tmp_path, second).role == "reader"

    code, out, _ = _cli(tmp_path, "list", "--format", "json")
    listed = json.loads(out)
    assert [t["name"] for t in listed] == ["ci job", "alice"]
    assert all("token" not in t and "sha256" not in t for t in listed)
    assert token not in out and second not in out
    code, out, _ = _cli(tmp_path, "list")
    assert code == 0 and "ci job" in out and token not in out

    code, _, err = _cli(tmp_path, "revoke", created["id"])
    assert code == 0 and created["id"] in err
    assert find_token(tmp_path, token) is None
    assert [t["revoked"] is not None for t in json.loads(_cli(tmp_path, "list", "--format", "json")[1])] == [
        True, False]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_cli_refuses_bad_requests(tmp_path: Path) -> None:
    code, out, err = _cli(tmp_path, "create", "--name", "x", "--role", "root")
    assert code == 1 and "unknown role" in err and out == ""
    code, _, err = _cli(tmp_path, "revoke", "nope")
    assert code == 1 and "no token" in err
    assert not tokens_file(tmp_path).exists()


def test_roles_nest() -> None:
    assert role_allows("admin", "publisher") and role_allows("admin", "reader")
    assert role_allows("publisher", "reader") and not role_allows("publisher", "admin")
    assert role_allows("reader", "reader") and not role_allows("reader", "publisher")
    assert not role_allows("root", "reader")


def test_the_token_store(tmp_path: Path) -> None:
    assert list_tokens(tmp_path) == [] and find_token(tmp_path, "anything") is None
    issued = create_token(tmp_path, name="bob", role="admin")
    assert find_token(tmp_path, issued.token) == issued.record
    assert find_token(tmp_path, issued.token + "x") is None
    revoked = revoke_token(tmp_path, issued.record.id)
    assert revoked.revoked is not None and revoke_token(tmp_path, issued.record.id) == revoked  # idempotent
    with pytest.raises(NotFoundError):
        revoke_token(tmp_path, "missing")
    with pytest.raises(TokenError):
        create_token(tmp_path, name=" ", role="reader")
    tokens_file(tmp_path).write_text("{not json")
    with pytest.raises(TokenError, match="damaged"):
        find_token(tmp_path, issued.token)


@pytest.fixture
def service(tmp_path: Path, serve_app: Callable[..., str]) -> tuple[str, Path]:
    from fairkg.api.app import create_app

    store = open_store("oxigraph:")
    url = serve_app(create_app(Settings(home=tmp_path, admin_token="env-admin"), store=store))
    return url, tmp_path


def test_tokens_from_the_cli_work_over_http_until_revoked(service: tuple[str, Path]) -> None:
    url, home = service
    code, out, _ = _cli(home, "create", "--name", "publisher", "--role", "publisher", "--format", "json")
    created = json.loads(out)
    headers = {"Authorization": f"Bearer {created['token']}"}
    # A publisher passes authentication on POST /models; the empty body is then a bad request, not 401/403.
    assert httpx.post(f"{url}/models", headers=headers, files={"card": ("card.yaml", b"{}")}).status_code == 422
    assert httpx.post(f"{url}/models/00000000-0000-0000-0000-000000000000/withdraw", json={"reason": "x"},
                      headers=headers).status_code == 403  # withdrawal is admin-only
    _cli(home, "revoke", created["id"])
    refused = httpx.post(f"{url}/models", headers=headers, files={"card": ("card.yaml", b"{}")})
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == 'Bearer realm="fairkg", error="invalid_token"'


def test_admin_tokens_from_the_cli_and_the_service(service: tuple[str, Path]) -> None:
    url, home = service
    admin = create_token(home, name="ops", role="admin").token
    unknown = "00000000-0000-0000-0000-000000000000"
    for token in (admin, "env-admin"):
        answer = httpx.post(f"{url}/models/{unknown}/withdraw", json={"reason": "x"},
                            headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404  # past authorisation: there is no such model
    basic = httpx.post(f"{url}/models/{unknown}/withdraw", json={"reason": "x"},
                       headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401 and basic.headers["www-authenticate"] == 'Bearer realm="fairkg"'
