"""Monthly spend caps: an LLM whose answers this month cost its cap or more gets no new call.

The spend is read from the costs stored with the answers Arena generated
(imported answers were paid elsewhere) that finished since the first of the
current month, in the server's time zone. Calls already in flight when the
cap is reached still finish, so the month can end slightly above the cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from battles.models import LLM, Generation


@dataclass(frozen=True)
class Spend:
    llm_id: int
    name: str
    cap: Decimal | None
    spent: Decimal
    since: datetime

    @property
    def reached(self) -> bool:
        return self.cap is not None and self.spent >= self.cap

    @property
    def reason(self) -> str:
        """Why calls stopped, for job pages, the LLM admin and failed generations (admins only)."""
        return (
            f"Monthly spend cap reached: {self.name} has cost ${self.spent:.2f} of its ${self.cap:.2f} cap since "
            f"{self.since:%Y-%m-%d}. No new calls until next month or a higher cap (LLM admin); then run the job again."
        )

    @property
    def display(self) -> str:
        spent = f"${self.spent:.2f} this month"
        if self.cap is None:
            return f"{spent} (no cap)"
        return f"{spent} of ${self.cap:.2f}" + (" — cap reached, calls stopped" if self.reached else "")


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_spend(llm_ids: Iterable[int]) -> dict[int, Decimal]:
    """This month's recorded cost per LLM id (0 for an LLM with none)."""
    ids = list(llm_ids)
    totals: dict[int, Decimal] = dict.fromkeys(ids, Decimal(0))
    if not ids:
        return totals
    for llm_id, total in (
        Generation.objects.filter(
            llm_version__llm_id__in=ids, imported=False, cost__isnull=False, finished_at__gte=month_start()
        )
        .values_list("llm_version__llm_id")
        .annotate(total=Sum("cost"))
        .values_list("llm_version__llm_id", "total")
    ):
        totals[llm_id] = total or Decimal(0)
    return totals


def month_cost_of_llm() -> Sum:
    """The month's recorded cost as an annotation on an LLM queryset (None when there is none)."""
    spent = "versions__generations__"
    return Sum(
        f"{spent}cost",
        filter=Q(**{f"{spent}imported": False, f"{spent}finished_at__gte": month_start()}),
    )


def spend_of(llms: Iterable[LLM]) -> dict[int, Spend]:
    """Spend and cap per LLM (one query)."""
    llms = list(llms)
    spent = month_spend(llm.pk for llm in llms)
    since = month_start()
    return {llm.pk: Spend(llm.pk, llm.name, llm.monthly_spend_cap, spent[llm.pk], since) for llm in llms}


def capped(llms: Iterable[LLM]) -> list[Spend]:
    """The LLMs among ``llms`` that reached their cap (no query when none has a cap)."""
    with_cap = [llm for llm in llms if llm.monthly_spend_cap is not None]
    if not with_cap:
        return []
    return [spend for spend in spend_of(with_cap).values() if spend.reached]


def capped_llm_ids() -> set[int]:
    """Ids of every LLM that reached its cap."""
    return {spend.llm_id for spend in capped(LLM.objects.filter(monthly_spend_cap__isnull=False))}


def cap_reason(llm_id: int) -> str:
    """The reason calls to this LLM are stopped, or "" (reads the current cap, so a raised cap applies at once)."""
    row = (
        LLM.objects.filter(pk=llm_id, monthly_spend_cap__isnull=False)
        .annotate(month_cost=month_cost_of_llm())
        .values_list("name", "monthly_spend_cap", "month_cost")
        .first()
    )
    if row is None:
        return ""
    name, cap, spent = row
    state = Spend(llm_id, name, cap, spent or Decimal(0), month_start())
    return state.reason if state.reached else ""
