"""A `javascript:` URL from a manifest or the dbt Cloud API is shown as text, never a link,
on every catalog page that shows one; http(s) URLs stay links."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import reverse

from catalog.links import site_path, web_url
from catalog.models import DbtExposure, Table
from tests.factories import analyst_user
from tests.support.hostile_urls import (
    EXPOSURE_URL,
    GOOD,
    HOSTILE,
    JOB_URL,
    NODE_URL,
    RUN_URL,
    build_hostile_catalog,
    script_links,
)


@pytest.mark.parametrize("url", HOSTILE, ids=repr)
def test_no_url_but_an_absolute_http_or_https_one_is_a_web_url(url):
    assert web_url(url) is None


@pytest.mark.parametrize(("url", "cleaned"), GOOD, ids=repr)
def test_http_and_https_urls_with_ports_queries_and_fragments_are_web_urls(url, cleaned):
    assert web_url(url) == (cleaned or url)


@pytest.mark.parametrize(
    "url", ["//evil.example.com/", "/\\evil.example.com/", " //evil.example.com", "javascript:x"]
)
def test_a_path_on_another_host_is_not_a_path_of_this_site(url):
    assert site_path(url) is None


def test_a_path_of_this_site_is_one():
    assert site_path("/catalog/tables/3/?depth=2#lineage") == "/catalog/tables/3/?depth=2#lineage"


def render_link(url, attrs: str = "") -> str:
    template = Template(
        "{% load links %}{% external_link url " + attrs + " %}<b>#{{ n }}</b>{% endexternal_link %}"
    )
    return template.render(Context({"url": url, "n": 7, "when": "2026-11-27"}))


@pytest.mark.parametrize("url", [u for u in HOSTILE if isinstance(u, str) and u.strip()], ids=repr)
def test_the_link_tag_shows_a_hostile_url_as_text_beside_the_content(url):
    html = render_link(url, 'class="status" title=when')
    assert "<a" not in html and "href" not in html
    assert html.startswith('<span class="status" title="2026-11-27"><b>#7</b></span> ')
    assert script_links(html) == []
    assert '<code class="url-as-text"' in html


def test_the_link_tag_escapes_the_url_it_shows_as_text():
    html = render_link('javascript:alert("x")<script>alert(1)</script>')
    assert "<script>" not in html
    assert "javascript:alert(&quot;x&quot;)&lt;script&gt;" in html


@pytest.mark.parametrize("url", ["", None], ids=repr)
def test_the_link_tag_shows_only_the_content_for_no_url(url):
    assert render_link(url) == "<span><b>#7</b></span>"


@pytest.mark.parametrize(("url", "cleaned"), GOOD, ids=repr)
def test_the_link_tag_links_an_http_or_https_url(url, cleaned):
    html = render_link(url, 'class="dbt-link"')
    expected = (cleaned or url).replace("&", "&amp;")
    assert html == (
        f'<a href="{expected}" rel="noopener noreferrer" class="dbt-link"><b>#7</b></a>'
    )


def test_the_web_url_filter_gives_the_url_or_nothing():
    template = Template("{% load links %}[{{ a|web_url }}][{{ b|web_url }}]")
    assert template.render(Context({"a": "https://x.example/", "b": EXPOSURE_URL})) == (
        "[https://x.example/][]"
    )


# -- the pages ------------------------------------------------------------------------------


@pytest.fixture
def hostile_catalog(db, warehouse_config):
    return build_hostile_catalog(warehouse_config)


@pytest.fixture
def analyst_client(db, client):
    client.force_login(analyst_user())
    return client


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_hostile_data_is_stored_as_the_manifest_and_api_gave_it(hostile_catalog):
    # Otherwise the page tests below would prove nothing.
    exposure = DbtExposure.objects.get()
    assert exposure.url == EXPOSURE_URL
    customers = Table.objects.get(name="customers")
    assert customers.dbt_nodes.get().url == NODE_URL
    assert customers.dbt_nodes.get().run.url == RUN_URL
    assert customers.dbt_jobs.get().url == JOB_URL


def test_the_exposure_page_shows_its_javascript_url_as_text(analyst_client, hostile_catalog):
    exposure = DbtExposure.objects.get()
    body = page(analyst_client, reverse("catalog:exposure", args=[exposure.pk]))
    assert script_links(body) == []
    assert (
        f'<code class="url-as-text" title="Not an http(s) address, so not a link">{EXPOSURE_URL}'
        in body
    )
    assert "open it" in body


def test_the_table_page_links_no_javascript_url_of_dbt(analyst_client, hostile_catalog):
    customers = Table.objects.get(name="customers")
    body = page(analyst_client, reverse("catalog:table", args=[customers.pk]))
    assert script_links(body) == []
    assert "Open customers in dbt Cloud" in body  # the panel is there, its link is text
    assert "alert(document.domain)//" in body and RUN_URL in body and JOB_URL in body
    assert 'id="jobs"' in body and 'id="tests"' in body
    assert 'class="lineage"' in body  # the lineage's own links are pages of the catalog


def test_the_jobs_page_links_no_javascript_url_of_dbt_cloud(analyst_client, hostile_catalog):
    body = page(analyst_client, reverse("catalog:jobs"))
    assert script_links(body) == []
    assert "Prod nightly" in body and "#9001" in body
    assert JOB_URL in body and RUN_URL in body


def test_https_links_of_dbt_stay_links(analyst_client, jaffle_catalog):
    customers = Table.objects.get(name="customers")
    body = page(analyst_client, reverse("catalog:table", args=[customers.pk]))
    assert 'href="https://ab123.us1.dbt.com/runs/9001/" rel="noopener noreferrer"' in body
    assert 'class="dbt-link">Open customers in dbt Cloud</a>' in body
    exposure = DbtExposure.objects.get()
    body = page(analyst_client, reverse("catalog:exposure", args=[exposure.pk]))
    assert f'<a href="{exposure.url}" rel="noopener noreferrer">open it</a>' in body
    body = page(analyst_client, reverse("catalog:jobs"))
    assert 'href="https://ab123.us1.dbt.com/deploy/1/projects/' in body
