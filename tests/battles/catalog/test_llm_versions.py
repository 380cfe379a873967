import pytest

from battles.catalog import llms
from battles.models import LLM, LLMVersion
from battles.voting import serving, votes
from tests.factories import make_arena, make_llm

pytestmark = pytest.mark.django_db


def test_changing_a_versioned_setting_creates_a_new_version():
    llm = make_llm("alpha", model_id="alpha-1")
    first = llm.current_version()
    second = llms.update_llm_settings(llm=llm, system_prompt="Be brief.")
    assert second.number == 2 and first.number == 1
    assert second.system_prompt == "Be brief." and second.model_id == "alpha-1"
    assert second.label == "alpha (v2)"


def test_saving_unchanged_settings_keeps_the_version():
    llm = make_llm("alpha", model_id="alpha-1")
    same = llms.update_llm_settings(llm=llm, model_id="alpha-1")
    assert same.number == 1
    assert LLMVersion.objects.count() == 1


def test_old_answers_keep_pointing_at_their_version():
    _, (alpha, _beta, _gamma), _ = make_arena(prompts=1)
    generation = alpha.current_version().generations.get()
    llms.update_llm_settings(llm=alpha, temperature=0.2)
    generation.refresh_from_db()
    assert generation.llm_version.number == 1


def test_llm_with_answers_is_retired_not_deleted():
    _, (alpha, _beta, _gamma), _ = make_arena(prompts=1)
    assert llms.retire_or_delete_llm(llm=alpha) == "retired"
    assert LLM.objects.get(pk=alpha.pk).status == "retired"


def test_llm_without_history_can_be_deleted():
    llm = make_llm("unused")
    assert llms.retire_or_delete_llm(llm=llm) == "deleted"
    assert not LLM.objects.filter(pk=llm.pk).exists()


def test_retired_llms_are_not_served(voter):
    _, (alpha, beta, gamma), _ = make_arena(prompts=3)
    llms.retire_or_delete_llm(llm=gamma)
    for _ in range(3):
        battle = serving.serve_battle(voter=voter).battle
        served = {battle.generation_a.llm_version.llm_id, battle.generation_b.llm_version.llm_id}
        assert gamma.pk not in served
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="tie")
