"""A small client of the dbt Cloud Administrative API (v2/v3), as the catalog uses it.

One `requests.Session`, a timeout on every call, `Authorization: Token`, trailing slashes
on every documented path, `limit`/`offset` pagination capped at 100, and retries with
backoff and jitter on 429, 5xx and transport errors. Permanent errors become
ConnectorErrors whose text says what to check; the token never appears in one. The access
URL is checked and rebuilt (dbt_cloud_hosts) before the token is set on the session.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urlsplit

import requests

from .base import ConnectorError, TransientConnectorError
from .dbt_cloud_hosts import (
    RETIRED_MESSAGE,
    AccessUrlRefused,
    access_url_checked,
    is_retired_host,
)

logger = logging.getLogger(__name__)

PAGE_LIMIT = 100
DOWNLOAD_CHUNK = 1024 * 1024
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


class DbtCloudNotFound(ConnectorError):
    pass


class ArtifactTooLarge(ConnectorError):
    """An artifact past the size limit, once decompressed: not retried, and not read on."""


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


class DbtCloudClient:
    def __init__(
        self,
        *,
        access_url: str,
        token: str,
        account_id: int,
        timeout: float = 30,
        connect_timeout: float = 10,
        idle_timeout: float = 10,
        download_deadline: float = 600,
        max_artifact_bytes: int = 2**30,
        max_attempts: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 300.0,
        rate_limit_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = self._checked_base(access_url)
        self.account_id = int(account_id)
        # Per phase: connecting; the first byte of an answer; then any silence while a
        # body streams (a stalled download is abandoned and retried, not waited out); and
        # a whole artifact's download. The largest artifact taken, once decompressed.
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.download_deadline = download_deadline
        self.max_artifact_bytes = max_artifact_bytes
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_limit_backoff = rate_limit_backoff
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.session.headers["User-Agent"] = "data-catalog"

    @staticmethod
    def _checked_base(access_url: str) -> str:
        # Checked again here, before the token is set, for URLs stored without the form's
        # check (an old database, a raw write): the token goes only to the rebuilt URL.
        try:
            return access_url_checked(access_url, retired_ok=True)
        except AccessUrlRefused as exc:
            raise AccessUrlRefused(
                f"The stored dbt Cloud access URL was refused and the token was not sent: {exc} "
                "Edit the integration and paste the account's access URL again."
            ) from None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DbtCloudClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base}/api/{path.lstrip('/')}"

    def _request(
        self,
        path: str,
        *,
        params: dict | None = None,
        accept_json: bool = True,
        sink: Callable[[requests.Response], None] | None = None,
    ):
        """GET with retries. With `sink`, the body is streamed: a successful answer is handed
        to sink (a transport error while it reads is retried like one before the answer)."""
        url = self._url(path)
        headers = {"Accept": "application/json"} if accept_json else {"Accept": "*/*"}
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self.session.get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=(self.connect_timeout, self.timeout),
                    stream=bool(sink),
                )
                if sink is not None:
                    with response:
                        if response.status_code >= 400:
                            response.content  # noqa: B018 - the error text, read under the retry
                        else:
                            _set_read_timeout(response, self.idle_timeout)
                            sink(response)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.max_attempts:
                    raise TransientConnectorError(
                        f"dbt Cloud at {self.base} did not answer ({type(exc).__name__}) after "
                        f"{attempt} attempts: check the access URL and the network."
                    ) from None
                self._wait(attempt, None)
                continue
            if response.status_code in RETRY_STATUSES:
                if attempt == self.max_attempts:
                    raise TransientConnectorError(
                        f"dbt Cloud answered {response.status_code} to GET {path} "
                        f"{attempt} times: {error_text(response)}"
                    )
                self._wait(
                    attempt,
                    response.headers.get("Retry-After"),
                    rate_limited=response.status_code == 429,
                )
                continue
            self._raise_for_status(response, path)
            return response
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, retry_after: str | None, *, rate_limited: bool = False) -> None:
        if retry_after and retry_after.strip().isdigit():
            delay = float(retry_after)
        else:
            # dbt does not promise Retry-After on the Admin API but cools a limited account
            # down for five minutes: retrying a 429 within seconds only extends it.
            base = self.rate_limit_backoff if rate_limited else self.backoff
            delay = base * 2 ** (attempt - 1)
            delay += random.uniform(0, delay / 2)
        self.sleep(min(delay, self.max_backoff))

    def _raise_for_status(self, response: requests.Response, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        message = error_text(response)
        if status == 401:
            host = (urlsplit(self.base).hostname or "").lower()
            if is_retired_host(host):
                raise ConnectorError(
                    f"dbt Cloud refused the token ({message}). " + RETIRED_MESSAGE.format(host=host)
                )
            raise ConnectorError(
                f"dbt Cloud refused the token ({message}). Check the service token, and that "
                f"the access URL {self.base} is your account's own (a token is not recognised "
                "on another region's or the legacy host)."
            )
        if status == 403:
            raise ConnectorError(
                f"dbt Cloud denied access ({message}). Check the token's permission set "
                "(Account Viewer or Job Viewer; Read-only on Team plans) and the account's "
                "IP restrictions."
            )
        if status == 404:
            raise DbtCloudNotFound(
                f"dbt Cloud found nothing at {path} ({message}). Check the account ID and "
                "that the token may see this account and its projects."
            )
        raise ConnectorError(f"dbt Cloud answered {status} to GET {path}: {message}")

    # -- API ---------------------------------------------------------------------------

    def get(self, path: str, params: dict | None = None) -> Any:
        return self._request(path, params=params).json().get("data")

    def paginate(self, path: str, params: dict | None = None) -> Iterator[dict]:
        offset = 0
        while True:
            body = self._request(
                path, params={**(params or {}), "limit": PAGE_LIMIT, "offset": offset}
            ).json()
            rows = body.get("data") or []
            yield from rows
            total = ((body.get("extra") or {}).get("pagination") or {}).get("total_count")
            offset += len(rows)
            if not rows or len(rows) < PAGE_LIMIT or (total is not None and offset >= total):
                return

    def account(self) -> dict:
        return self.get(f"v2/accounts/{self.account_id}/")

    def artifact(self, run_id: int, path: str, *, step: int | None = None) -> bytes:
        """An artifact's bytes (decompressed), within the size limit."""
        buffer = io.BytesIO()
        self.artifact_to_file(run_id, path, buffer, step=step)
        return buffer.getvalue()

    def artifact_to_file(
        self, run_id: int, path: str, dest: IO[bytes], *, step: int | None = None
    ) -> int:
        """`artifact`, written to `dest` chunk by chunk rather than held in memory: for the
        manifest, the largest. Each attempt starts `dest` over. The number of bytes written.

        The body is decompressed as it streams (a gzip Content-Encoding), and stopped at
        max_artifact_bytes: a small download that inflates without end costs no more than
        the limit. An attempt that outlasts download_deadline is abandoned and retried."""
        params = {"step": step} if step is not None else None
        written = 0

        def sink(response: requests.Response) -> None:
            nonlocal written
            dest.seek(0)
            dest.truncate()
            written = 0
            started = time.monotonic()
            for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK):
                written += len(chunk)
                if written > self.max_artifact_bytes:
                    dest.truncate(0)
                    raise ArtifactTooLarge(
                        f"dbt Cloud's {path} of run {run_id} is larger than "
                        f"{_size(self.max_artifact_bytes)} once decompressed "
                        "(DBT_CLOUD_ARTIFACT_MAX_BYTES); the download was stopped there. "
                        "Raise the setting if this project's artifacts are really that large."
                    )
                dest.write(chunk)
                if time.monotonic() - started > self.download_deadline:
                    raise requests.Timeout(f"{path} took over {self.download_deadline:.0f} s")
            dest.flush()

        self._request(
            f"v2/accounts/{self.account_id}/runs/{run_id}/artifacts/{path}",
            params=params,
            accept_json=False,
            sink=sink,
        )
        return written


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Once an answer's headers are in, its body may pause for `seconds` at most, which is
    shorter than the wait for the first byte (the API may take a while to start)."""
    # urllib3 2 hands the socket over to the response: http.client's reader over it.
    reader = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if sock is None:
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        logger.warning("No socket found on a dbt Cloud answer: its body has no idle timeout.")
        return
    sock.settimeout(seconds)


def error_text(response: requests.Response) -> str:
    """The message of an error body, whatever its shape (envelope, DRF detail, text)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] if text else response.reason or "no message"
    if isinstance(body, dict):
        status = body.get("status")
        if isinstance(status, dict) and status.get("user_message"):
            return str(status["user_message"])
        if body.get("detail"):
            return str(body["detail"])
    return str(body)[:200]
