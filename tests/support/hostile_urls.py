"""A jaffle_shop catalog whose dbt Cloud data carries script URLs, and a check that a page
links to none of them.

The hostile records are the real jaffle_shop artifacts and run, changed in memory: the
exposure's `url` in the manifest, the job's and the run's links from the dbt Cloud API and
the explore links of every node and test each hold a `javascript:` URL in another disguise.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from catalog.services import dbt_apply
from integrations.connectors.dbt_records import SyncState
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.support.dbt_fixtures import artifact, artifacts, job, run

EXPOSURE_URL = "javascript:alert(document.domain)"
JOB_URL = " JaVaScRiPt:alert(document.domain)"
RUN_URL = "java\tscript:alert(document.domain)"
NODE_URL = "\x01javascript:alert(document.domain)//"
RUN_ID = 9001
JOB_ID = 4021

# What people and manifests may write that a browser runs or sends elsewhere, and what it may not.
HOSTILE = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "\x00javascript:alert(1)",
    "\x1fjavascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "javascript\t:alert(1)",
    "javascript:alert(1)\n",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://files.example.com/x",
    "mailto:someone@example.com",
    "//evil.example.com/x",
    "\\\\evil.example.com/x",
    "/\\evil.example.com/x",
    "https:evil.example.com",
    "https:/evil.example.com",
    "https:\\\\evil.example.com",
    "https://",
    "http://[::1",
    "https://example.com:notaport/",
    "/catalog/",
    "relative/path",
    "",
    None,
    42,
]
GOOD = [
    ("https://bi.jaffle.example.com/dashboards/customer-revenue", None),
    ("http://bi.example.com/x", None),
    ("HTTPS://Example.COM/Path", None),
    ("https://ab123.us1.dbt.com:8443/runs/9001/?tab=logs&step=2#artifacts", None),
    ("http://127.0.0.1:8000/", None),
    ("https://[2001:db8::1]:443/a", None),
    ("https://user@example.com/", None),
    ("  https://example.com/x\n", "https://example.com/x"),
    ("https://exa\tmple.com/x", "https://example.com/x"),
]


def hostile_records() -> list:
    manifest = artifact("manifest.json")
    for exposure in manifest["exposures"].values():
        exposure["url"] = EXPOSURE_URL
    parsed = artifacts(RUN_ID, JOB_ID, manifest=manifest)
    parsed = _with_node_urls(parsed, NODE_URL)
    return [
        dataclasses.replace(job(JOB_ID), url=JOB_URL),
        dataclasses.replace(run(RUN_ID, JOB_ID), url=RUN_URL),
        parsed,
        SyncState({"ingested_runs": {str(JOB_ID): RUN_ID}}),
    ]


def _with_node_urls(parsed, url: str):
    """The artifacts with every node's and test's dbt Cloud link replaced."""
    return dataclasses.replace(
        parsed,
        nodes=tuple(dataclasses.replace(n, url=url) for n in parsed.nodes),
        tests=tuple(dataclasses.replace(t, url=url) for t in parsed.tests),
    )


def build_hostile_catalog(warehouse_config: dict) -> tuple[Integration, Integration]:
    warehouse = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=warehouse)).value == "succeeded"
    dbt = Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )
    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=hostile_records(),
    )
    return warehouse, dbt


# -- what a page links to -------------------------------------------------------------------

_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name in _URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
            if name.startswith("on"):
                self.urls.append((tag, name, "javascript:" + (value or "")))


def links_in(html: str) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) of every URL attribute, entities decoded as a browser does."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser.urls


def scheme_as_browser_reads(url: str) -> str:
    """The scheme a browser would take from the attribute: it drops leading and trailing
    C0 controls and spaces and every tab and newline, and ignores case."""
    cleaned = re.sub("[\t\n\r]", "", url.strip("".join(chr(c) for c in range(0x21)))).lower()
    match = _SCHEME.match(cleaned)
    return match.group(1) if match else ""


def script_links(html: str) -> list[tuple[str, str, str]]:
    """Every URL attribute (and inline handler) that is neither a page of this site nor an
    http(s) address."""
    return [
        link
        for link in links_in(html)
        if scheme_as_browser_reads(link[2]) not in ("", "http", "https")
    ]
