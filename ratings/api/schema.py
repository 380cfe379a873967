"""The OpenAPI 3.1 document of the JSON API, written by hand and served at /api/schema/.

The tests run schemathesis against it (every operation, valid and invalid inputs), so it
must say exactly what the views accept: every value it allows is answered with 2xx (or
404 for a benchmark that does not exist), every value it forbids with 400.
"""

from __future__ import annotations

from django.conf import settings

from ratings.api.params import MAX_NAME_CHARS, MAX_PAGE
from ratings.filters import MAX_CATEGORY_CHARS

NO_NUL = "^[^\\u0000]*$"
BOOLEAN_VALUES = ["true", "false", "1", "0"]


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _flag(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", "enum": BOOLEAN_VALUES}}


def _error(description: str, *, challenge: bool = False) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
    if challenge:
        response["headers"] = {"WWW-Authenticate": {
            "description": "Bearer challenge (RFC 6750).", "required": True, "schema": {"type": "string"},
        }}
    return response


def _ok(description: str, schema_name: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


COMMON_ERRORS = {
    "400": _error("A query parameter is malformed; `parameter` names it."),
    "401": _error("No token, a malformed Authorization header, or an unknown or revoked token.", challenge=True),
    "403": _error("The token's owner is no longer an active eval lead or admin."),
}

FILTER_PARAMETERS = [
    {"name": "category", "in": "query", "required": False,
     "description": "Only votes on prompts of this category (empty: all).",
     "schema": {"type": "string", "maxLength": MAX_CATEGORY_CHARS, "pattern": NO_NUL}},
    {"name": "pool", "in": "query", "required": False,
     "description": "Only votes on prompts of this pool (its code).",
     "schema": {"type": "string", "format": "uuid"}},
    {"name": "from", "in": "query", "required": False,
     "description": "First day (inclusive, server time zone), YYYY-MM-DD.",
     "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "required": False,
     "description": "Last day (inclusive, server time zone), YYYY-MM-DD.",
     "schema": {"type": "string", "format": "date"}},
    {"name": "group", "in": "query", "required": False,
     "description": "Only votes by members of this voter group (eval_lead and admin imply insider votes).",
     "schema": {"type": "string", "enum": ["voter", "eval_lead", "admin"]}},
    _flag("insider", "Include insider votes (eval leads and admins); default false."),
    _flag("flagged", "Include flagged votes; default false."),
    _flag("nolive", "Leave out votes on live battles; default false."),
]

STYLE_PARAMETER = _flag("style_control", "Use the style-controlled board (answer length and markdown held equal).")


def _schemas() -> dict:
    number, integer, string, boolean = {"type": "number"}, {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
    nullable_number = {"type": ["number", "null"]}
    strings = {"type": "array", "items": string}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {
                "error": {"type": "string", "description": "A stable code: bad_request, unauthorized, "
                                                          "invalid_token, forbidden, not_found."},
                "detail": {"type": "string", "description": "A message for people."},
                "parameter": {"type": "string", "description": "The query parameter at fault."},
            },
        },
        "Board": {
            "type": "object",
            "description": "Provenance of a snapshot: the same votes and settings give the same numbers.",
            "required": ["scope", "computed_at", "vote_count", "vote_hash", "settings"],
            "properties": {
                "scope": string,
                "computed_at": {"type": "string", "format": "date-time"},
                "vote_count": {"type": "integer", "minimum": 0},
                "vote_hash": {"type": "string", "description": "SHA-256 over the aggregated vote counts."},
                "settings": {"type": "object", "description": "Engine settings of the fit."},
            },
        },
        "LeaderboardRow": {
            "type": "object",
            "required": ["rank", "model", "rating", "lower", "upper", "votes", "provisional"],
            "properties": {
                "rank": {"type": "integer", "minimum": 1,
                         "description": "1 + the number of models whose interval lies wholly above this one."},
                "model": {"type": "string", "description": "Board label (LLM name, with the version after the first)."},
                "llm": {"type": ["string", "null"], "format": "uuid", "description": "The LLM's code."},
                "rating": number, "lower": number, "upper": number,
                "votes": integer, "wins": {"type": ["integer", "null"]}, "losses": {"type": ["integer", "null"]},
                "ties": {"type": ["integer", "null"]}, "both_bad": {"type": ["integer", "null"]},
                "win_rate": nullable_number, "provisional": boolean,
                "elo": nullable_number, "trueskill_mu": nullable_number, "trueskill_sigma": nullable_number,
                "style_rating": nullable_number, "style_lower": nullable_number, "style_upper": nullable_number,
                "style_rank": {"type": ["integer", "null"]},
                "latency_p50_ms": nullable_number, "cost_per_1000": nullable_number,
            },
        },
        "Leaderboard": {
            "type": "object",
            "required": ["filter", "style_control", "board", "rows"],
            "properties": {
                "filter": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "The filter parameters that differ from the default board."},
                "style_control": boolean,
                "board": _nullable(_ref("Board")),
                "style_board": _nullable(_ref("Board")),
                "rows": {"type": "array", "items": _ref("LeaderboardRow")},
            },
        },
        "ModelVersion": {
            "type": "object",
            "required": ["number", "label", "model_id", "created_at"],
            "properties": {
                "number": {"type": "integer", "minimum": 1}, "label": string, "model_id": string,
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "Model": {
            "type": "object",
            "required": ["code", "name", "provider", "status", "imported", "versions"],
            "properties": {
                "code": {"type": "string", "format": "uuid"},
                "name": string,
                "provider": string,
                "status": {"type": "string", "enum": ["active", "retired"]},
                "imported": boolean,
                "price_input_per_mtok": number,
                "price_output_per_mtok": number,
                "created_at": {"type": "string", "format": "date-time"},
                "versions": {"type": "array", "items": _ref("ModelVersion")},
            },
        },
        "ModelList": {
            "type": "object",
            "required": ["count", "results"],
            "properties": {"count": {"type": "integer", "minimum": 0},
                           "results": {"type": "array", "items": _ref("Model")}},
        },
        "Vote": {
            "type": "object",
            "required": ["id", "created_at", "outcome", "winner", "model_a", "model_b", "reasons_a", "reasons_b",
                         "comment", "flagged", "flags", "insider", "live", "imported"],
            "properties": {
                "id": integer,
                "created_at": {"type": "string", "format": "date-time"},
                "outcome": {"type": "string", "enum": ["a", "b", "tie", "both_bad"]},
                "winner": {"type": "string", "description": "The winning LLM's name, or tie / both_bad."},
                "model_a": string, "model_b": string, "version_a": string, "version_b": string,
                "reasons_a": strings, "reasons_b": strings, "comment": string,
                "flagged": boolean, "flags": strings, "insider": boolean, "live": boolean, "imported": boolean,
                "time_to_vote_ms": {"type": ["integer", "null"]},
                "battle": {"type": ["string", "null"], "format": "uuid"},
                "category": {"type": ["string", "null"]},
                "pool": {"type": ["string", "null"]},
                "voter": {"type": ["string", "null"], "description": "A stable pseudonym, not the user."},
            },
        },
        "VotePage": {
            "type": "object",
            "required": ["count", "page", "page_size", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "minimum": 0, "description": "Votes matching the filter."},
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1},
                "next": {"type": ["string", "null"], "description": "Path and query of the next page."},
                "previous": {"type": ["string", "null"]},
                "results": {"type": "array", "items": _ref("Vote")},
            },
        },
        "Correlation": {
            "type": "object",
            "required": ["estimate", "lower", "upper", "rounds"],
            "properties": {
                "estimate": {"type": ["number", "null"], "minimum": -1, "maximum": 1},
                "lower": {"type": ["number", "null"], "minimum": -1, "maximum": 1},
                "upper": {"type": ["number", "null"], "minimum": -1, "maximum": 1},
                "rounds": {"type": "integer", "minimum": 0,
                           "description": "Bootstrap rounds in which the coefficient was defined."},
            },
        },
        "ComparisonRow": {
            "type": "object",
            "required": ["model", "score", "benchmark_rank", "arena_rank", "arena_rank_best", "arena_rank_worst",
                         "gap", "outside", "flagged"],
            "properties": {
                "model": {"type": "string", "description": "The LLM's name."},
                "score": number,
                "benchmark_rank": {"type": "number", "minimum": 1, "description": "Mid-rank, 1 = best."},
                "arena_rank": {"type": "number", "minimum": 1},
                "arena_rank_best": {"type": "integer", "minimum": 1},
                "arena_rank_worst": {"type": "integer", "minimum": 1},
                "gap": {"type": "number", "description": "benchmark_rank - arena_rank."},
                "outside": {"type": "number", "minimum": 0,
                            "description": "Distance of the benchmark rank outside [best, worst]."},
                "flagged": boolean,
                "rating": number, "lower": number, "upper": number, "votes": integer,
            },
        },
        "Comparison": {
            "type": "object",
            "required": ["benchmark", "higher_is_better", "n_models", "spearman", "kendall", "rows"],
            "properties": {
                "benchmark": string,
                "higher_is_better": boolean,
                "n_models": {"type": "integer", "minimum": 0},
                "spearman": _ref("Correlation"),
                "kendall": _ref("Correlation"),
                "rows": {"type": "array", "items": _ref("ComparisonRow")},
                "missing_on_arena": strings,
                "missing_on_benchmark": strings,
                "settings": {"type": "object"},
            },
        },
        "BenchmarkReport": {
            "type": "object",
            "required": ["style_control", "board", "comparisons", "composite", "notes"],
            "properties": {
                "style_control": boolean,
                "board": _nullable(_ref("Board")),
                "settings": {"type": "object"},
                "comparisons": {"type": "array", "items": _ref("Comparison")},
                "composite": {"anyOf": [{"type": "null"}, {
                    "type": "object",
                    "required": ["weights", "coverage", "left_out"],
                    "properties": {
                        "weights": {"type": "object", "additionalProperties": number},
                        "coverage": {"type": "object", "additionalProperties": number},
                        "left_out": strings,
                        "min_coverage": number,
                    },
                }]},
                "notes": strings,
            },
        },
    }


def openapi_document() -> dict:
    page_parameters = [
        {"name": "page", "in": "query", "required": False, "description": "Page number, from 1.",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
        {"name": "page_size", "in": "query", "required": False,
         "description": f"Votes per page (default {settings.ARENA_API_PAGE_SIZE}).",
         "schema": {"type": "integer", "minimum": 1, "maximum": settings.ARENA_API_MAX_PAGE_SIZE}},
    ]
    model_parameter = {"name": "model", "in": "query", "required": False,
                       "description": "Only votes where either side is a version of this LLM (its code).",
                       "schema": {"type": "string", "format": "uuid"}}
    benchmark_parameter = {"name": "benchmark", "in": "query", "required": False,
                           "description": "One benchmark (its name, ignoring case) or `composite`; default all.",
                           "schema": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                                      "pattern": NO_NUL}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Arena API",
            "version": "1.0.0",
            "description": (
                "Read-only access to the arena's leaderboards, models, votes and benchmark comparison. "
                "Authenticate with `Authorization: Bearer <token>` (tokens: admin, or `manage.py "
                "create_api_token USER`). Vote filters use the leaderboard pages' parameter names. Votes are "
                "paginated by page number in the order they were stored (stable: votes are never deleted)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/leaderboard/": {"get": {
                "operationId": "leaderboard",
                "summary": "The Bradley–Terry leaderboard for a vote filter",
                "parameters": [*FILTER_PARAMETERS, STYLE_PARAMETER],
                "responses": {"200": _ok("The board, best first, with its provenance.", "Leaderboard"),
                              **COMMON_ERRORS},
            }},
            "/api/models/": {"get": {
                "operationId": "models",
                "summary": "Every LLM with its versions",
                "responses": {"200": _ok("All LLMs by name.", "ModelList"),
                              "401": COMMON_ERRORS["401"], "403": COMMON_ERRORS["403"]},
            }},
            "/api/votes/": {"get": {
                "operationId": "votes",
                "summary": "Votes, with reasons, comment and flags, one page at a time",
                "parameters": [*FILTER_PARAMETERS, model_parameter, *page_parameters],
                "responses": {"200": _ok("A page of votes, oldest first.", "VotePage"), **COMMON_ERRORS},
            }},
            "/api/benchmarks/": {"get": {
                "operationId": "benchmarks",
                "summary": "Benchmark ranks against arena ranks: vibes gap, flags, rank correlations",
                "parameters": [benchmark_parameter, STYLE_PARAMETER],
                "responses": {
                    "200": _ok("One comparison per benchmark, and the weighted composite.", "BenchmarkReport"),
                    **COMMON_ERRORS,
                    "404": _error("No benchmark has that name."),
                },
            }},
            "/api/schema/": {"get": {
                "operationId": "schema",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API token (see create_api_token)."}},
            "schemas": _schemas(),
        },
    }
