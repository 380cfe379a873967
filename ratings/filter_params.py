"""The board filter's query parameters, parsed in one place for the pages, the exports and the API.

``FilterParams`` declares each parameter once, with the leaderboard pages' names: its type
and bounds validate a query, and django-ninja reads the same class to describe the
parameters in the API's OpenAPI document, so the two cannot disagree:

- ``category`` (at most 50 characters, no NUL), ``pool`` (a pool's code, a UUID),
  ``from`` and ``to`` (days written YYYY-MM-DD, inclusive), ``group`` (voter, eval_lead,
  admin; eval_lead and admin mean insider votes), ``insider``, ``flagged``, ``nolive``
  (true, false, 1 or 0).

The API validates its query with these types as they are (``ratings.api``): a bad value is a
400 naming the parameter, and a ``from`` after ``to`` simply matches no votes. The pages and
exports read theirs with ``page_filter``, which takes a query the way a form sends it: values
are trimmed, an empty value means the parameter is absent, the three toggles are checkboxes
(on for 1, on, true or yes, in any case; off otherwise), a bad value is reported in words and
left out (never guessed), and a start date after the end date is refused.

The types below are also those of the API's other parameters; every failure is explained by
a predicate (``must be a code (UUID)``) that the API puts after the parameter's name.
"""

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    ValidationError,
    WrapValidator,
)
from pydantic_core import CoreSchema, PydanticCustomError

from arena.roles import ADMIN, ALL_ROLES, EVAL_LEAD
from ratings.filters import CALENDAR_END, CALENDAR_START, BoardFilter

MAX_CATEGORY_CHARS = 50
NO_NUL = "^[^\\u0000]*$"  # no column holds a NUL, and Postgres refuses one in a query
# The types parse more spellings than these (pydantic reads "20240101" as a date or a UUID
# without hyphens); only these reach them, so the API accepts what its schema says and no more.
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CODE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WHOLE = re.compile(r"0|[1-9][0-9]{0,8}")
FlagSpelling = Literal["true", "false", "1", "0"]
FLAG_VALUES: dict[FlagSpelling, bool] = {"true": True, "false": False, "1": True, "0": False}  # in that order
GroupName = Literal["voter", "eval_lead", "admin"]  # arena.roles.ALL_ROLES (a test keeps them in step)
CHECKBOX_ON = ("1", "on", "true", "yes")


# --- parameter types ---------------------------------------------------------------------


def problem(kind: str, predicate: str) -> PydanticCustomError:
    """A bad parameter value; ``predicate`` completes a sentence that starts with its name."""
    # The predicate goes in through the context so that braces in it are never a template.
    return PydanticCustomError(kind, "{predicate}", {"predicate": predicate})


def explained(predicate: str) -> WrapValidator:
    """Any failure of the type it wraps becomes ``predicate``."""

    def explain(value, handler):
        try:
            return handler(value)
        except ValidationError:
            raise problem("malformed", predicate) from None

    return WrapValidator(explain)


def spelled(pattern: re.Pattern) -> BeforeValidator:
    """Only a string spelled exactly as ``pattern`` gets to the type's own parsing.

    Put it after the type's constraints (``Field(ge=…)``): constraints placed after a validator
    are still checked but no longer described in the JSON schema.
    """

    def check(value):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"not spelled as {pattern.pattern}")
        return value

    return BeforeValidator(check)


def explain_text(value, handler):
    """Which of a text's bounds ``value`` broke: empty, then NUL, then too long."""
    try:
        return handler(value)
    except ValidationError as exc:
        failed = exc.errors()[0]
    if failed["type"] == "string_too_short":
        raise problem("empty", "must not be empty") from None
    if isinstance(value, str) and "\x00" in value:
        raise problem("nul", "must not contain NUL characters") from None
    if failed["type"] == "string_too_long":
        raise problem("too_long", f"is longer than {failed['ctx']['max_length']} characters") from None
    raise problem("malformed", "must be a string") from None


@dataclass(frozen=True)
class DefaultOnlyNone:
    """Metadata of ``Omittable``: validate and describe ``X | None`` as ``X`` alone."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema["type"] != "nullable":
            raise TypeError(f"Omittable needs an optional type, not {source!r}")
        return schema["schema"]


T = TypeVar("T")
# A field that may be left out (a query parameter, a key of an API answer), and is None then:
# give it a None default. None is only that default, never a value (a query cannot send a
# null, an answer leaves the key out), so the type accepts and describes none: ``X | None``
# alone would add a null to the schema, and a bare ``X`` would tell a type checker that the
# field always holds an ``X``.
Omittable: TypeAlias = Annotated[T | None, DefaultOnlyNone()]


def as_flag_spelling(_source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    return handler(
        Annotated[
            FlagSpelling,
            explained(f"must be one of {', '.join(FLAG_VALUES)}"),
            AfterValidator(FLAG_VALUES.__getitem__),
        ]
    )


# A bool, given (and described in the schema) as one of the spellings of FLAG_VALUES.
Flag: TypeAlias = Annotated[bool, GetPydanticSchema(as_flag_spelling)]
Day: TypeAlias = Annotated[dt.date, spelled(DAY), explained("must be a date written YYYY-MM-DD")]
Code: TypeAlias = Annotated[uuid.UUID, spelled(CODE), explained("must be a code (UUID)")]
Group: TypeAlias = Annotated[GroupName, explained(f"must be one of {', '.join(ALL_ROLES)}")]
# A string of at most MAX_CATEGORY_CHARS characters without NUL.
Category: TypeAlias = Annotated[str, Field(max_length=MAX_CATEGORY_CHARS, pattern=NO_NUL), WrapValidator(explain_text)]


def flag(description: str):
    # The default goes through the type too, so an absent flag is False like a "false" one.
    return Field("false", validate_default=True, description=description)


# --- the board filter --------------------------------------------------------------------


class FilterParams(BaseModel):
    """The vote filter of a board, as query parameters."""

    category: Category = Field("", description="Only votes on prompts of this category (empty: all).")
    pool: Omittable[Code] = Field(None, description="Only votes on prompts of this pool (its code).")
    date_from: Omittable[Day] = Field(
        None, alias="from", description="First day (inclusive, server time zone), YYYY-MM-DD."
    )
    date_to: Omittable[Day] = Field(None, alias="to", description="Last day (inclusive, server time zone), YYYY-MM-DD.")
    group: Omittable[Group] = Field(
        None, description="Only votes by members of this voter group (eval_lead and admin imply insider votes)."
    )
    insider: Flag = flag("Include insider votes (eval leads and admins); default false.")
    flagged: Flag = flag("Include flagged votes; default false.")
    nolive: Flag = flag("Leave out votes on live battles; default false.")

    def board_filter(self) -> BoardFilter:
        return BoardFilter(
            category=self.category,
            pool=str(self.pool) if self.pool else "",
            date_from=self.date_from,
            date_to=self.date_to,
            group=self.group or "",
            # Every vote of an eval lead or admin is an insider vote: the group alone means them.
            include_insider=self.insider or self.group in (EVAL_LEAD, ADMIN),
            include_flagged=self.flagged,
            include_live=not self.nolive,
        )


FILTER_PARAMETERS = tuple(field.alias or name for name, field in FilterParams.model_fields.items())
TOGGLES = ("insider", "flagged", "nolive")
NOT_A_DATE = "“{value}” is not a date (use YYYY-MM-DD)."
PAGE_PROBLEMS = {
    ("category", "too_long"): "That category name is too long.",
    ("category", None): "Unknown category.",
    ("pool", None): "Unknown prompt pool.",
    ("from", None): NOT_A_DATE,
    ("to", None): NOT_A_DATE,
    ("group", None): "Unknown voter group.",
}


def page_problem(parameter: str, kind: str, value: str) -> str:
    message = PAGE_PROBLEMS.get((parameter, kind)) or PAGE_PROBLEMS[parameter, None]
    return message.format(value=value)


def page_filter(params) -> tuple[BoardFilter, list[str]]:
    """The filter of a page's (or an export's) query and the problems found, for people.

    A parameter with a bad value is reported and ignored; unknown parameters are ignored.
    """
    values = {}
    for name in FILTER_PARAMETERS:
        value = (params.get(name) or "").strip()
        if name in TOGGLES:
            value = "true" if value.lower() in CHECKBOX_ON else "false"
        if value:
            values[name] = value
    problems = []
    try:
        parsed = FilterParams.model_validate(values)
    except ValidationError as exc:
        failed = {error["loc"][0]: error["type"] for error in exc.errors()}
        problems = [page_problem(name, failed[name], values[name]) for name in FILTER_PARAMETERS if name in failed]
        parsed = FilterParams.model_validate({name: v for name, v in values.items() if name not in failed})
    flt = parsed.board_filter()
    if flt.date_from and flt.date_to and flt.date_from > flt.date_to:
        problems.append("The start date is after the end date.")
        flt = flt.with_changes(date_from=None, date_to=None)
    return flt, problems


def within_calendar(flt: BoardFilter) -> BoardFilter:
    """``flt`` without date bounds that lie beyond any vote.

    They change nothing, and at the ends of the calendar turning them into aware datetimes
    would overflow.
    """
    changes: dict[str, dt.date | None] = {}
    if flt.date_from is not None and flt.date_from <= CALENDAR_START:
        changes["date_from"] = None
    if flt.date_to is not None and flt.date_to >= CALENDAR_END:
        changes["date_to"] = None
    return flt.with_changes(**changes) if changes else flt
