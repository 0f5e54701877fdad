"""The daemon's answers as the CLI reads them: errors become one line, headers become offsets."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from runyard.cli.client import DaemonClient, ServerInfo, read_server_info
from runyard.cli.errors import ApiError
from runyard.errors import DaemonUnavailable
from tests.unit.cli.daemon_stub import DaemonAnswering


@pytest.mark.parametrize(
    ("response", "status", "error", "detail"),
    [
        (
            httpx.Response(
                404, json={"error": "not_found", "detail": "run 9 not found", "field": None}
            ),
            404,
            "not_found",
            "run 9 not found",
        ),
        (
            httpx.Response(
                422,
                json={
                    "error": "invalid_spec",
                    "detail": "workdir /x does not\nexist",
                    "field": "workdir",
                },
            ),
            422,
            "invalid_spec",
            "workdir /x does not exist",
        ),
        (
            httpx.Response(
                422, json={"detail": [{"loc": ["body", "gpus_min"], "msg": "too small"}]}
            ),
            422,
            "http_error",
            "gpus_min: too small",
        ),
        (httpx.Response(500, text="boom"), 500, "http_error", "the daemon answered HTTP 500: boom"),
        (httpx.Response(401), 401, "http_error", "the daemon refused the token in server.json"),
    ],
)
def test_error_answers_become_one_line_api_errors(
    daemon_answering: DaemonAnswering,
    response: httpx.Response,
    status: int,
    error: str,
    detail: str,
) -> None:
    with daemon_answering(lambda _: response) as client, pytest.raises(ApiError) as caught:
        client.get_run(9)
    assert (caught.value.status_code, caught.value.error) == (status, error)
    assert str(caught.value).startswith(detail) and "\n" not in str(caught.value)


def test_every_request_carries_the_token(daemon_answering: DaemonAnswering) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"runs": []})

    with daemon_answering(answer, token="tok") as client:
        assert client.list_runs() == []
    assert seen == ["Bearer tok"]


def test_find_run_is_none_for_an_unknown_id(daemon_answering: DaemonAnswering) -> None:
    answer = httpx.Response(
        404, json={"error": "not_found", "detail": "run 9 not found", "field": None}
    )
    with daemon_answering(lambda _: answer) as client:
        assert client.find_run(9) is None


def test_log_headers_say_where_to_go_on(daemon_answering: DaemonAnswering) -> None:
    headers = {
        "X-Runyard-Attempt": "2",
        "X-Runyard-Next-Offset": "105",
        "X-Runyard-Attempt-Finished": "1",
    }
    answer = httpx.Response(200, content=b"hello", headers=headers)
    with daemon_answering(lambda _: answer) as client:
        chunk = client.read_log(3, None, 100)
    assert (chunk.data, chunk.attempt, chunk.next_offset, chunk.finished) == (
        b"hello",
        2,
        105,
        True,
    )


def test_a_daemon_gone_away_is_daemon_unavailable() -> None:
    with socket.socket() as closed:  # a port nothing listens on once it is closed
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with (
        DaemonClient(ServerInfo(url, 1, "t")) as client,
        pytest.raises(DaemonUnavailable, match=f"lost the daemon at {url}"),
    ):
        client.health()


def test_a_connection_the_daemon_closed_while_idle_is_not_reused(
    daemon_answering: DaemonAnswering,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok"}, headers={"Connection": "close"})

    with daemon_answering(answer) as client:
        assert [client.health()["status"] for _ in range(3)] == ["ok"] * 3


@pytest.mark.parametrize(
    "content", ["", "{", '{"url": "http://x"}', '{"url": "http://x", "pid": "nan"}', "[]"]
)
def test_a_partial_or_odd_server_file_counts_as_no_daemon(tmp_path: Path, content: str) -> None:
    path = tmp_path / "server.json"
    path.write_text(content)
    assert read_server_info(path) is None


def test_server_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    path.write_text('{"url": "http://127.0.0.1:9/", "pid": 12, "token": "t"}')
    assert read_server_info(path) == ServerInfo("http://127.0.0.1:9", 12, "t")
    assert read_server_info(tmp_path / "missing.json") is None
