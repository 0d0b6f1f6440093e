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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable_ref(name: str) -> dict[str, Any]:
    # OpenAPI 3.0: a $ref cannot carry `nullable` beside it; allOf can.
    return {"allOf": [_ref(name)], "nullable": True}


STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
TIME = {"type": "string", "format": "date-time", "nullable": True}
JOB_REF = {
    "type": "object",
    "description": "A dbt Cloud job, by its dbt Cloud id",
    "properties": {"id": INTEGER, "name": STRING},
}
RUN_REF = {
    "type": "object",
    "description": "A dbt Cloud run, by its dbt Cloud id, with its link",
    "properties": {"id": INTEGER, "url": STRING},
}
PROVENANCE = {
    "type": "object",
    "description": "The run (and its job) that said this fact, and when that run finished",
    "properties": {
        "job": {**JOB_REF, "nullable": True},
        "run": {**RUN_REF, "nullable": True},
        "finished_at": TIME,
    },
}
NODE_PROVENANCE = {
    "type": "object",
    "description": "Per kind of fact, where it came from; null: no run read has said it",
    "properties": {
        "definition": _nullable_ref("Provenance"),  # the newest manifest that has the node
        "execution": _nullable_ref("Provenance"),  # the newest run that built it
        "compiled": _nullable_ref("Provenance"),  # the newest run that compiled it
        "catalog": _nullable_ref("Provenance"),  # the newest run whose catalog.json has it
        "freshness": _nullable_ref("Provenance"),  # the newest run whose sources.json has it
    },
}
DBT_NODE = {
    "type": "object",
    "properties": {
        "unique_id": STRING,
        "resource_type": {"type": "string", "enum": ["model", "seed", "snapshot", "source"]},
        "version": {"type": "string", "nullable": True},
        "latest_version": {"type": "string", "nullable": True},
        "is_latest_version": {"type": "boolean"},
        "url": STRING,
        "materialized": STRING,
        "access": STRING,
        "group": {"type": "string", "nullable": True},
        "contract_enforced": {"type": "boolean"},
        "owner": STRING,
        "compiled_code": STRING,
        "executed_at": TIME,
        "execution": {
            "type": "object",
            "nullable": True,
            "description": "The build result; null when no run read built it",
            "properties": {
                "status": STRING,
                "executed_at": TIME,
                "execution_time": {"type": "number", "nullable": True},
                "message": STRING,
                "adapter_response": {"type": "object"},
            },
        },
        "freshness": {"type": "string", "nullable": True, "description": "pass, warn or error"},
        "freshness_check": {
            "type": "object",
            "nullable": True,
            "properties": {
                "status": STRING,
                "max_loaded_at": TIME,
                "snapshotted_at": TIME,
                "age_seconds": {"type": "number", "nullable": True},
                "criteria": {"type": "object"},
                "error": STRING,
            },
        },
        "match_rule": STRING,
        "provenance": _ref("NodeProvenance"),
    },
}
BUILD = {
    "type": "object",
    "description": "A live job whose runs built the table (a test-only job never is one)",
    "properties": {
        "job": {**JOB_REF, "properties": {**JOB_REF["properties"], "url": STRING}},
        "run": {**RUN_REF, "nullable": True, "description": "The run of its newest build"},
        "last_built_at": TIME,
    },
}
HISTORY_ROW = {
    "type": "object",
    "description": "A change of the test's outcome",
    "properties": {
        "status": STRING,
        "failures": {"type": "integer", "nullable": True},
        "message": STRING,
        "executed_at": TIME,
        "job": {**JOB_REF, "nullable": True},
        "run": {**RUN_REF, "nullable": True},
    },
}
TEST = {
    "type": "object",
    "properties": {
        "unique_id": STRING,
        "name": STRING,
        "test_type": STRING,
        "test_name": STRING,
        "column": STRING,
        "severity": STRING,
        "status": {"type": "string", "description": '"" when no run read has executed it'},
        "never_run": {"type": "boolean"},
        "failures": {"type": "integer", "nullable": True},
        "message": STRING,
        "url": STRING,
        "executed_at": TIME,
        "provenance": {
            "type": "object",
            "properties": {
                "definition": _nullable_ref("Provenance"),
                "result": _nullable_ref("Provenance"),  # the newest run that executed it
            },
        },
        "history": {
            "type": "array",
            "description": "The newest ten changes of outcome, newest first",
            "items": _ref("TestHistoryRow"),
        },
    },
}


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
            "/tables/{pk}/tests/": _get(
                "Its dbt tests with status, where the result came from, and history",
                "Tests",
                [PK],
            ),
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
                        "dbt": {"type": "array", "items": _ref("DbtNode")},
                        "jobs": {"type": "array", "items": _ref("Build")},
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
                        "tests": {"type": "array", "items": _ref("Test")},
                    },
                },
                "Provenance": PROVENANCE,
                "NodeProvenance": NODE_PROVENANCE,
                "DbtNode": DBT_NODE,
                "Build": BUILD,
                "Test": TEST,
                "TestHistoryRow": HISTORY_ROW,
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
