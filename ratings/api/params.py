"""The query parameters of each API endpoint, one class per endpoint.

django-ninja validates a request's query against the class and writes the endpoint's
parameters in the OpenAPI document from it. The vote filter is the leaderboard pages'
(``ratings.filter_params``), so a page's query string works on the API as it is; unlike
the pages, the API refuses a malformed value with HTTP 400 naming the parameter. Every
value the schema allows is accepted (an unknown pool or a ``from`` after ``to`` simply match
no votes).
"""

from typing import Annotated, TypeAlias

from django.conf import settings
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, WrapValidator, field_validator, model_validator

from ratings.filter_params import (
    NO_NUL,
    WHOLE,
    Code,
    FilterParams,
    Flag,
    Omittable,
    explain_text,
    explained,
    flag,
    problem,
    spelled,
)

MAX_PAGE = 10_000_000
MAX_NAME_CHARS = 100  # Benchmark.name

PageNumber: TypeAlias = Annotated[
    int, Field(ge=1, le=MAX_PAGE), spelled(WHOLE), explained(f"must be an integer from 1 to {MAX_PAGE}")
]
# Its upper bound is a setting, checked and described when used rather than fixed at import.
PageSize: TypeAlias = Annotated[int, Field(ge=1), spelled(WHOLE)]
# A non-empty string of at most MAX_NAME_CHARS characters without NUL.
BenchmarkName: TypeAlias = Annotated[
    str, Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=NO_NUL), WrapValidator(explain_text)
]


class BadParameter(Exception):
    """A query parameter the API refuses; answered with 400 naming it.

    Not a ValueError: raised inside validation, it passes through pydantic unchanged.
    """

    def __init__(self, parameter: str, detail: str):
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


def refuse_unknown(query, known) -> None:
    """Raise ``BadParameter`` for the first parameter of ``query`` not in ``known``.

    A misspelt filter would otherwise be ignored silently, and the answer would look right
    while covering other votes.
    """
    unknown = sorted(set(query) - set(known))
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise BadParameter(unknown[0], f"unknown parameter {unknown[0]!r} (known: {names})")


class StrictQuery(BaseModel):
    """A query that may hold only the class's fields (by their query names)."""

    @model_validator(mode="before")
    @classmethod
    def refuse_unknown_parameters(cls, data, info: ValidationInfo):
        # django-ninja validates with the request in the context; the check runs before any
        # field is parsed, so an unknown parameter is reported first, as it always was.
        request = (info.context or {}).get("request")
        if request is not None:
            refuse_unknown(request.GET, [field.alias or name for name, field in cls.model_fields.items()])
        return data


class LeaderboardQuery(FilterParams, StrictQuery):
    style_control: Flag = flag("Use the style-controlled board (answer length and markdown held equal).")


def default_page_size() -> int:
    return min(settings.ARENA_API_PAGE_SIZE, settings.ARENA_API_MAX_PAGE_SIZE)


def describe_page_size(schema: dict) -> None:
    schema["maximum"] = settings.ARENA_API_MAX_PAGE_SIZE
    schema["description"] = f"Votes per page (default {default_page_size()})."


class VoteQuery(FilterParams, StrictQuery):
    model: Omittable[Code] = Field(
        None, description="Only votes where either side is a version of this LLM (its code)."
    )
    page: PageNumber = Field(1, description="Page number, from 1.")
    page_size: Omittable[PageSize] = Field(None, json_schema_extra=describe_page_size)

    @field_validator("page_size", mode="wrap")
    @classmethod
    def within_page_size(cls, value, handler):
        maximum = settings.ARENA_API_MAX_PAGE_SIZE
        try:
            size = handler(value)
        except ValidationError:
            size = None
        if size is None or size > maximum:
            raise problem("malformed", f"must be an integer from 1 to {maximum}")
        return size


class BenchmarkQuery(StrictQuery):
    benchmark: Omittable[BenchmarkName] = Field(
        None, description="One benchmark (its name, ignoring case) or `composite`; default all."
    )
    style_control: Flag = flag("Use the style-controlled board (answer length and markdown held equal).")
