"""The OpenAPI 3.0 description of the read API, served at /api/v1/schema/."""

from __future__ import annotations

from typing import Any

ERROR = {
    "description": "Bad input, unauthenticated or unknown object",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _get(summary: str, schema_ref: str, params: list[dict] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params or [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{schema_ref}"}
                        }
                    },
                },
                "400": ERROR,
                "401": ERROR,
                "404": ERROR,
            },
        }
    }


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind},
    }


PK = {"name": "pk", "in": "path", "required": True, "schema": {"type": "integer"}}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Data catalog read API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"session": []}, {"token": []}],
        "paths": {
            "/search/": _get(
                "Search tables, columns, dbt models, tests, exposures and terms",
                "SearchPage",
                [
                    _query("q", "Words to look for in names, descriptions, tags and owners"),
                    _query(
                        "kind",
                        "table, view, materialized_view, column, dbt_model, test, exposure or term",
                    ),
                    _query("integration", "Integration id", "integer"),
                    _query("database", "Database name"),
                    _query("schema", "Schema name"),
                    _query("tag", "A tag"),
                    _query("owner", "An owner"),
                    _query("failing", "1: only what has failing tests"),
                    _query("documented", "1 or 0"),
                    _query("page", "Page number, from 1", "integer"),
                    _query("per_page", "1 to 100", "integer"),
                ],
            ),
            "/tables/": _get(
                "A table by path",
                "Table",
                [{**_query("path", "database.schema.table"), "required": True}],
            ),
            "/tables/{pk}/": _get("A table by id", "Table", [PK]),
            "/tables/{pk}/columns/": _get("Its columns", "Columns", [PK]),
            "/tables/{pk}/tests/": _get("Its dbt tests with status and history", "Tests", [PK]),
            "/tables/{pk}/lineage/": _get(
                "Upstream and downstream tables and exposures",
                "Lineage",
                [PK, _query("depth", "0 to 5, default 2", "integer")],
            ),
            "/schema/": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.0"}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Token <your personal API token>",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
                "SearchHit": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string"},
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "path": {"type": "string"},
                        "description": {"type": "string"},
                        "table_id": {"type": "integer", "nullable": True},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "owners": {"type": "array", "items": {"type": "string"}},
                        "url": {"type": "string", "nullable": True},
                    },
                },
                "SearchPage": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "total": {"type": "integer"},
                        "results": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/SearchHit"},
                        },
                    },
                },
                "Table": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "path": {"type": "string"},
                        "integration": {"type": "string"},
                        "database": {"type": "string"},
                        "schema": {"type": "string"},
                        "kind": {"type": "string"},
                        "description": {"type": "string"},
                        "description_source": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "owners": {"type": "array", "items": {"type": "string"}},
                        "row_estimate": {"type": "integer", "nullable": True},
                        "removed": {"type": "boolean"},
                        "failing_tests": {"type": "integer"},
                        "dbt": {"type": "array", "items": {"type": "object"}},
                        "links": {"type": "object"},
                    },
                },
                "Columns": {
                    "type": "object",
                    "properties": {
                        "table": {"type": "integer"},
                        "columns": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Tests": {
                    "type": "object",
                    "properties": {
                        "table": {"type": "integer"},
                        "tests": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Lineage": {
                    "type": "object",
                    "properties": {
                        "table": {"type": "integer"},
                        "depth": {"type": "integer"},
                        "truncated": {"type": "boolean"},
                        "nodes": {"type": "array", "items": {"type": "object"}},
                        "edges": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    }
