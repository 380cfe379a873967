from battles.core.integrity import find_identity_mentions, identity_terms, minimum_vote_ms


def test_configured_names_and_their_distinctive_parts_are_identity_terms():
    terms = identity_terms(["aurora-large", "acme/basalt-mini-2"])
    assert {"aurora-large", "aurora", "basalt-mini-2", "basalt"} <= terms
    assert "large" not in terms and "mini" not in terms


def test_self_naming_answers_are_found():
    terms = identity_terms(["aurora-large"])
    assert find_identity_mentions("As Claude, I think…", terms) == ["claude"]
    assert find_identity_mentions("I am Aurora, built for you.", terms) == ["aurora"]
    assert find_identity_mentions("Trained by OpenAI and not GPT-4o.", terms) == ["openai", "gpt-4o"]


def test_ordinary_words_are_not_identity_mentions():
    terms = identity_terms(["aurora-large", "cedar-chat", "drift-7b"])
    text = "Let's chat about a large migration; the 7b step drifts. Metadata and claudication."
    assert find_identity_mentions(text, terms) == []


def test_minimum_vote_time_grows_with_answer_length():
    assert minimum_vote_ms(0) == 2000
    assert minimum_vote_ms(3000) > minimum_vote_ms(300) > minimum_vote_ms(0)
